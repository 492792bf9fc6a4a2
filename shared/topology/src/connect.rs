//! Connecting to NATS with the configured credentials and TLS. A server that is not up yet
//! (compose start order, a cluster node down) is waited for; a server that refuses the
//! credentials, the TLS setup, or later a permission, ends the process with a message saying
//! who was refused what: retrying cannot fix a configuration.

use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};
use j2t_config::{ExposeSecret, NatsAuth, NatsConfig};

/// Exit code of a process NATS refused (credentials or a permission).
pub const REFUSED_EXIT_CODE: i32 = 3;

/// Why no connection could be made at all.
#[derive(Debug, thiserror::Error)]
#[error("NATS at {servers} refused {who}: {source}{hint}")]
pub struct ConnectError {
    pub servers: String,
    pub who: String,
    #[source]
    pub source: async_nats::ConnectError,
    hint: &'static str,
}

/// Connects to `nats.url` (every server of a cluster), waiting for a server that does not
/// answer yet and reconnecting forever afterwards. `name` names the client on the server.
pub async fn connect(cfg: &NatsConfig, name: &str) -> Result<async_nats::Client, ConnectError> {
    let servers = cfg.servers();
    let who = cfg.auth().describe();
    let mut waited = 0u32;
    loop {
        let options = options(cfg, name, &who).await?;
        match options.connect(servers.as_slice()).await {
            Ok(client) => return Ok(client),
            // Not up yet, or unreachable or not in DNS yet: wait for it (compose and
            // orchestrators start NATS alongside).
            Err(e)
                if matches!(
                    e.kind(),
                    ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns
                ) =>
            {
                if waited.is_multiple_of(15) {
                    tracing::warn!(servers = %cfg.url, error = %e, "NATS does not answer yet; waiting");
                }
                waited += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => {
                let hint = match e.kind() {
                    ConnectErrorKind::AuthorizationViolation => {
                        " (check nats.user/nats.password, nats.token, nats.creds_file or \
                         nats.nkey_seed_file against the server's users)"
                    }
                    ConnectErrorKind::Tls => {
                        " (check nats.tls_ca_file, nats.tls_cert_file, nats.tls_key_file and \
                         the server's TLS settings)"
                    }
                    _ => "",
                };
                return Err(ConnectError {
                    servers: cfg.url.clone(),
                    who,
                    source: e,
                    hint,
                });
            }
        }
    }
}

async fn options(cfg: &NatsConfig, name: &str, who: &str) -> Result<ConnectOptions, ConnectError> {
    let refused = |source: std::io::Error| ConnectError {
        servers: cfg.url.clone(),
        who: who.to_string(),
        source: async_nats::ConnectError::with_source(ConnectErrorKind::Authentication, source),
        hint: " (reading the credentials file named by nats.creds_file or nats.nkey_seed_file)",
    };
    let mut options = match cfg.auth() {
        NatsAuth::None => ConnectOptions::new(),
        NatsAuth::CredsFile(path) => ConnectOptions::with_credentials_file(path)
            .await
            .map_err(refused)?,
        NatsAuth::NkeySeedFile(path) => {
            let seed = tokio::fs::read_to_string(&path).await.map_err(refused)?;
            ConnectOptions::with_nkey(seed.trim().to_string())
        }
        NatsAuth::UserPassword { user, password } => {
            ConnectOptions::with_user_and_password(user, password.expose_secret().to_string())
        }
        NatsAuth::Token(token) => ConnectOptions::with_token(token.expose_secret().to_string()),
    };
    if let Some(tls) = cfg.tls() {
        if let Some(ca) = tls.ca_file {
            options = options.add_root_certificates(ca);
        }
        if let Some((cert, key)) = tls.client {
            options = options.add_client_certificate(cert, key);
        }
        // A CA or client certificate means TLS is meant: never fall back to plain text.
        options = options.require_tls(true);
        if tls.first {
            options = options.tls_first();
        }
    }
    let who = who.to_string();
    Ok(options
        .name(name)
        .custom_inbox_prefix(&cfg.inbox_prefix)
        .max_reconnects(None)
        .event_callback(move |event| {
            let who = who.clone();
            async move { on_event(&who, event) }
        }))
}

fn on_event(who: &str, event: Event) {
    match event {
        Event::ServerError(ServerError::Other(text)) if is_permission_violation(&text) => {
            refused(&format!(
                "NATS refused a permission to {who}: {text}. The server's permissions for \
                 this user lack it (see deploy/nats/users.conf and the README's \"Securing \
                 NATS\"); was this service given another service's user?"
            ));
        }
        Event::ServerError(ServerError::AuthorizationViolation) => {
            refused(&format!(
                "NATS refused {who} (authorization violation) on reconnecting: the server's \
                 users changed, or the credentials were revoked"
            ));
        }
        Event::Disconnected => tracing::warn!("NATS connection lost; reconnecting"),
        Event::Connected => tracing::info!("NATS connected"),
        other => tracing::debug!(event = %other, "NATS event"),
    }
}

/// The server's `-ERR 'Permissions Violation for Publish to "…"'` (or Subscription).
pub(crate) fn is_permission_violation(text: &str) -> bool {
    text.to_ascii_lowercase().contains("permissions violation")
}

/// Ends the process: a refused credential or permission is a configuration error no retry
/// fixes, and a service that kept running would look alive while doing nothing.
fn refused(message: &str) {
    tracing::error!("{message}");
    eprintln!("error: {message}");
    std::process::exit(REFUSED_EXIT_CODE);
}

#[cfg(test)]
mod tests {
    #[test]
    fn permission_violations_are_recognised() {
        assert!(super::is_permission_violation(
            "Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.J2T_ORDERS\""
        ));
        assert!(super::is_permission_violation(
            "permissions violation for subscription to \"_INBOX.>\""
        ));
        assert!(!super::is_permission_violation("maximum payload exceeded"));
    }
}
