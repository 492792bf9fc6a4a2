//! `[nats]`: where the servers are, how the services prove who they are (one way at most),
//! TLS, and the topology's limits and replicas. The keys are read one by one
//! ([`NatsKeys`]), then checked together: a combination that cannot work names its keys.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::values;

/// `[nats]` as written: every key parsed on its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsKeys {
    /// NATS server URL, e.g. `nats://127.0.0.1:4222`; a cluster's servers separated by
    /// commas (the client fails over between them).
    #[serde(deserialize_with = "values::non_empty")]
    pub url: String,
    /// Byte limits of the streams and of each KV bucket. A full stream or bucket refuses
    /// new messages (discard new): the publisher retries and nothing already stored is
    /// dropped; the monitor alerts at `monitor.storage_alert_percent` of a limit.
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub orders_max_bytes: i64,
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub windows_max_bytes: i64,
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub vouchers_max_bytes: i64,
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub dlq_max_bytes: i64,
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub results_max_bytes: i64,
    /// The limit of every KV bucket (each bucket has its own).
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub bucket_max_bytes: i64,
    /// J2T_CHANGES (changes after the write, until handled).
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub changes_max_bytes: i64,
    /// The j2t_written bucket (lines written per io_id, `corrections.watch_days`).
    #[serde(deserialize_with = "values::at_least::<_, _, 1024>")]
    pub written_max_bytes: i64,
    /// Copies of every stream and bucket kept by a JetStream cluster (1, 3 or 5; at most the
    /// cluster's size). Applied when the topology is created or updated.
    pub replicas: usize,
    /// The services create and update the streams, consumers and buckets at start. `false`
    /// (a least-privilege deployment): they only look them up, and wait until the operator
    /// has run `jst2tplus nats-setup`.
    pub create_topology: bool,
    /// Replies to this client's requests arrive under `<inbox_prefix>.>`; one prefix per
    /// service lets the server config allow each user its own inbox only.
    pub inbox_prefix: String,
    /// Credentials: at most one of a creds file (JWT + nkey), an nkey seed file, a user with
    /// a password, or a token.
    pub creds_file: Option<PathBuf>,
    pub nkey_seed_file: Option<PathBuf>,
    pub user: String,
    pub password: SecretString,
    pub token: SecretString,
    /// TLS: the CA that signed the server's certificate (else the system's roots), and a
    /// client certificate with its key when the server verifies clients (mutual TLS).
    pub tls_ca_file: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Refuse to talk to a server that does not offer TLS.
    pub tls_required: bool,
    /// Start TLS before the server's INFO (servers configured with `handshake_first`).
    pub tls_first: bool,
}

/// `[nats]`, checked: dereferences to its keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "NatsKeys")]
pub struct NatsConfig(NatsKeys);

impl std::ops::Deref for NatsConfig {
    type Target = NatsKeys;

    fn deref(&self) -> &NatsKeys {
        &self.0
    }
}

impl std::ops::DerefMut for NatsConfig {
    /// For callers that point at another server (the demo, tests); no cross-key rule
    /// involves the URL or the limits.
    fn deref_mut(&mut self) -> &mut NatsKeys {
        &mut self.0
    }
}

/// How a client proves who it is.
#[derive(Debug, Clone)]
pub enum NatsAuth {
    None,
    CredsFile(PathBuf),
    NkeySeedFile(PathBuf),
    UserPassword {
        user: String,
        password: SecretString,
    },
    Token(SecretString),
}

impl NatsAuth {
    /// Who the client is, for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            NatsAuth::None => "no credentials".to_string(),
            NatsAuth::CredsFile(path) => format!("the creds file {}", path.display()),
            NatsAuth::NkeySeedFile(path) => format!("the nkey seed in {}", path.display()),
            NatsAuth::UserPassword { user, .. } => format!("user `{user}`"),
            NatsAuth::Token(_) => "a token".to_string(),
        }
    }
}

/// TLS settings, when any is set.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsTls {
    pub ca_file: Option<PathBuf>,
    /// Certificate and key.
    pub client: Option<(PathBuf, PathBuf)>,
    pub required: bool,
    pub first: bool,
}

impl NatsConfig {
    /// The server URLs of `url`.
    pub fn servers(&self) -> Vec<String> {
        server_list(&self.url)
    }

    /// The one way of proving who the client is (checked at load).
    pub fn auth(&self) -> NatsAuth {
        let k = &self.0;
        if let Some(path) = &k.creds_file {
            NatsAuth::CredsFile(path.clone())
        } else if let Some(path) = &k.nkey_seed_file {
            NatsAuth::NkeySeedFile(path.clone())
        } else if !k.user.is_empty() {
            NatsAuth::UserPassword {
                user: k.user.clone(),
                password: k.password.clone(),
            }
        } else if !k.token.expose_secret().is_empty() {
            NatsAuth::Token(k.token.clone())
        } else {
            NatsAuth::None
        }
    }

    /// TLS settings, or `None` for a plain connection (unless a `tls://` URL asks for it).
    pub fn tls(&self) -> Option<NatsTls> {
        let k = &self.0;
        let tls = NatsTls {
            ca_file: k.tls_ca_file.clone(),
            client: k.tls_cert_file.clone().zip(k.tls_key_file.clone()),
            required: k.tls_required,
            first: k.tls_first,
        };
        let off = NatsTls {
            ca_file: None,
            client: None,
            required: false,
            first: false,
        };
        (tls != off).then_some(tls)
    }
}

fn server_list(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl TryFrom<NatsKeys> for NatsConfig {
    type Error = String;

    fn try_from(k: NatsKeys) -> Result<Self, String> {
        check(&k)?;
        Ok(NatsConfig(k))
    }
}

/// The rules joining several keys; each error names the keys to change.
fn check(k: &NatsKeys) -> Result<(), String> {
    if server_list(&k.url).is_empty() {
        return Err(format!("nats.url `{}` names no server", k.url));
    }
    if ![1, 3, 5].contains(&k.replicas) {
        return Err(format!(
            "nats.replicas is {}; JetStream keeps 1, 3 or 5 copies",
            k.replicas
        ));
    }
    let prefix = &k.inbox_prefix;
    if prefix.is_empty() || prefix.contains(['*', '>', ' ', '.']) {
        return Err(format!(
            "nats.inbox_prefix `{prefix}` must be one subject token (no dots, spaces or wildcards)"
        ));
    }
    let ways: Vec<&str> = [
        (k.creds_file.is_some(), "nats.creds_file"),
        (k.nkey_seed_file.is_some(), "nats.nkey_seed_file"),
        (!k.user.is_empty(), "nats.user"),
        (!k.token.expose_secret().is_empty(), "nats.token"),
    ]
    .into_iter()
    .filter_map(|(set, key)| set.then_some(key))
    .collect();
    if ways.len() > 1 {
        return Err(format!(
            "{} are all set; set one way of authenticating to NATS",
            ways.join(" and ")
        ));
    }
    let has_password = !k.password.expose_secret().is_empty();
    if has_password && k.user.is_empty() {
        return Err("nats.password is set but nats.user is empty".to_string());
    }
    if !k.user.is_empty() && !has_password {
        return Err(format!(
            "nats.user is `{}` but nats.password is empty",
            k.user
        ));
    }
    match (&k.tls_cert_file, &k.tls_key_file) {
        (Some(_), None) => {
            return Err("nats.tls_cert_file is set without nats.tls_key_file".to_string());
        }
        (None, Some(_)) => {
            return Err("nats.tls_key_file is set without nats.tls_cert_file".to_string());
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with_env(None, Some(env)).map_err(|e| e.to_string())
    }

    #[test]
    fn bad_combinations_name_their_keys() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case; 7] = [
            (
                &[("J2T__NATS__USER", "fetcher"), ("J2T__NATS__TOKEN", "t")],
                &["nats.user", "nats.token"],
            ),
            (
                &[
                    ("J2T__NATS__CREDS_FILE", "/a.creds"),
                    ("J2T__NATS__NKEY_SEED_FILE", "/a.nk"),
                ],
                &["nats.creds_file", "nats.nkey_seed_file"],
            ),
            (&[("J2T__NATS__USER", "fetcher")], &["nats.password"]),
            (&[("J2T__NATS__PASSWORD", "pw")], &["nats.user"]),
            (
                &[("J2T__NATS__TLS_CERT_FILE", "/c.pem")],
                &["nats.tls_key_file"],
            ),
            (&[("J2T__NATS__REPLICAS", "2")], &["nats.replicas"]),
            (
                &[("J2T__NATS__INBOX_PREFIX", "a.b")],
                &["nats.inbox_prefix"],
            ),
        ];
        for (env, keys) in cases {
            let err = load(env).expect_err("a bad combination");
            for key in keys {
                assert!(err.contains(key), "{env:?}: {err}");
            }
        }
    }

    #[test]
    fn one_way_of_authenticating_is_resolved_and_secrets_stay_hidden() {
        let cfg = load(&[
            ("J2T__NATS__USER", "writer"),
            ("J2T__NATS__PASSWORD", "pw-s3cr3t"),
            (
                "J2T__NATS__URL",
                "nats://a:4222, nats://b:4222,nats://c:4222",
            ),
            ("J2T__NATS__TLS_CA_FILE", "/ca.pem"),
        ])
        .expect("valid");
        let auth = cfg.nats.auth();
        assert!(matches!(auth, crate::NatsAuth::UserPassword { ref user, .. } if user == "writer"));
        assert_eq!(auth.describe(), "user `writer`");
        assert_eq!(
            cfg.nats.servers(),
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
        let tls = cfg.nats.tls().expect("tls");
        assert_eq!(
            tls.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        let printed = format!("{cfg:?} {auth:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");

        let open = load(&[]).expect("defaults");
        assert!(matches!(open.nats.auth(), crate::NatsAuth::None));
        assert!(open.nats.tls().is_none());
        assert_eq!(open.nats.replicas, 1);
        assert!(open.nats.create_topology);
    }
}
