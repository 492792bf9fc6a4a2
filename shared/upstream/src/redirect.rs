//! Redirects are never followed: T+ sends its secrets in custom headers (`appKey`,
//! `appSecret`, `openToken`), which reqwest strips only for the standard auth headers when
//! a redirect leaves the host. A redirect is an error naming its status and target host.

/// A redirect an API answered. Holds the target's host only: the path or query of a
/// `Location` could carry anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "redirect (HTTP {status}) to host `{host}` refused: redirects are not followed, so \
     credentials never travel to another host; point base_url at the API itself"
)]
pub struct Redirect {
    pub status: u16,
    pub host: String,
}

/// The redirect `response` is, if it is one (3xx); the host of its `Location`, resolved
/// against the request's URL (`?` when it has none).
pub fn redirect_of(response: &reqwest::Response) -> Option<Redirect> {
    let status = response.status();
    if !status.is_redirection() {
        return None;
    }
    let host = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| response.url().join(location).ok())
        .and_then(|target| target.host_str().map(str::to_string))
        .unwrap_or_else(|| "?".to_string());
    Some(Redirect {
        status: status.as_u16(),
        host,
    })
}

/// The HTTP client every API call uses: the timeout, and no redirects followed.
pub fn api_http_client(timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering every request with `302 Location: location`, counting requests.
    async fn redirecting(location: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
                );
                let _ = socket.write_all(head.as_bytes()).await;
            }
        });
        format!("http://{addr}/start")
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_names_only_the_target_host() {
        let client = api_http_client(std::time::Duration::from_secs(5)).expect("client");
        let url = redirecting("https://elsewhere.example:8443/steal?openToken=s3cret").await;
        let response = client.get(url).send().await.expect("response");
        let redirect = redirect_of(&response).expect("a redirect");
        assert_eq!(redirect.status, 302);
        assert_eq!(redirect.host, "elsewhere.example");
        let text = redirect.to_string();
        assert!(
            text.contains("302") && text.contains("elsewhere.example"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");

        let relative = redirecting("/other").await;
        let response = client.get(relative).send().await.expect("response");
        assert_eq!(
            redirect_of(&response).map(|r| r.host).as_deref(),
            Some("127.0.0.1")
        );
    }
}
