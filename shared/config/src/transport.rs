//! Which base URLs the API clients may use: `https`, or plain `http` to loopback or to a
//! host the configuration names (the simulator in compose). Checked at load, so a typo
//! that would send tokens in clear over a network stops the service with the key's name.

use serde::Deserialize;
use url::{Host, Url};

/// Hosts allowed over plain HTTP (`jst.allow_http_hosts`, `tplus.allow_http_hosts`):
/// written as one string, separated by commas and/or whitespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct HostList(Vec<String>);

impl From<String> for HostList {
    fn from(hosts: String) -> Self {
        HostList(
            crate::split_ids(&hosts)
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        )
    }
}

impl HostList {
    pub fn contains(&self, host: &str) -> bool {
        self.0.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// Loopback never leaves the machine: `localhost`, 127.0.0.0/8, `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `Ok` when `url` may carry the credentials: `https`, or `http` to loopback or a listed
/// host. The error says why not and what to do; `allow_key` names the list's key.
pub fn check_base_url(url: &Url, allowed: &HostList, allow_key: &str) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or_default();
            if allowed.contains(host) {
                Ok(())
            } else {
                Err(format!(
                    "`{url}` is plain http to `{host}`, which would send the credentials \
                     unencrypted; use https, or list `{host}` in {allow_key} (for a simulator \
                     or a TLS-terminating proxy on a trusted network)"
                ))
            }
        }
        other => Err(format!("`{url}`: scheme `{other}` is not http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_loopback_and_listed_hosts_pass_and_other_plain_http_fails() {
        let allowed = HostList::from("simulator, Sim2".to_string());
        let cases = [
            ("https://openapi.chanjet.com", true),
            ("http://127.0.0.1:8082", true),
            ("http://127.8.0.1:8082", true),
            ("http://localhost:8081", true),
            ("http://[::1]:8081", true),
            ("http://simulator:8082", true),
            ("http://SIM2:8082", true),
            ("http://openapi.jushuitan.com", false),
            ("http://10.0.0.5:8082", false),
            ("http://simulator.evil:8082", false),
            ("ftp://127.0.0.1/", false),
        ];
        for (url, ok) in cases {
            let url = Url::parse(url).expect("url");
            let result = check_base_url(&url, &allowed, "tplus.allow_http_hosts");
            assert_eq!(result.is_ok(), ok, "{url}: {result:?}");
        }
        let err = check_base_url(
            &Url::parse("http://10.0.0.5:8082").expect("url"),
            &allowed,
            "tplus.allow_http_hosts",
        )
        .expect_err("plain http");
        assert!(
            err.contains("10.0.0.5") && err.contains("tplus.allow_http_hosts"),
            "{err}"
        );
    }
}
