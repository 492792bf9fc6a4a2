//! Reading a response body with a size cap, so a misbehaving server (or a proxy's error page
//! gone wrong) cannot make a client buffer without bound.

/// Response bodies the JST client reads at most (a full page of 50 orders is far smaller).
pub const JST_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Response bodies the T+ client reads at most (answers are short JSON).
pub const TPLUS_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Webhook receivers' answers read at most.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body (or its announced length) exceeds the cap; reading stopped there.
    #[error("response body larger than {limit} bytes (at least {seen} bytes)")]
    TooLarge { limit: usize, seen: u64 },
    #[error("reading the response body: {0}")]
    Read(reqwest::Error),
}

impl BodyError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Read(e) if e.is_timeout())
    }
}

/// The whole body, or [`BodyError::TooLarge`] as soon as it is known to exceed `limit` bytes
/// (from `Content-Length`, or while reading).
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(announced) = response.content_length()
        && announced > limit as u64
    {
        return Err(BodyError::TooLarge {
            limit,
            seen: announced,
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(e.without_url()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge {
                limit,
                seen: (body.len() + chunk.len()) as u64,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server answering `body` (chunked when `chunked`, so no length is
    /// announced up front).
    async fn server(body: Vec<u8>, chunked: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = if chunked {
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_string()
            } else {
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len())
            };
            let _ = socket.write_all(head.as_bytes()).await;
            if chunked {
                for part in body.chunks(8192) {
                    let _ = socket
                        .write_all(format!("{:x}\r\n", part.len()).as_bytes())
                        .await;
                    let _ = socket.write_all(part).await;
                    let _ = socket.write_all(b"\r\n").await;
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            } else {
                let _ = socket.write_all(&body).await;
            }
        });
        format!("http://{addr}/")
    }

    async fn read(body: Vec<u8>, chunked: bool, limit: usize) -> Result<Vec<u8>, BodyError> {
        let url = server(body, chunked).await;
        let response = reqwest::get(url).await.expect("response");
        read_capped(response, limit).await
    }

    #[tokio::test]
    async fn bodies_within_the_cap_are_read_whole() {
        for chunked in [false, true] {
            let body = read(vec![b'x'; 100_000], chunked, 100_000).await;
            assert_eq!(body.expect("read").len(), 100_000);
        }
    }

    #[tokio::test]
    async fn an_oversized_body_is_a_typed_error_announced_or_not() {
        let announced = read(vec![b'x'; 100_001], false, 100_000).await;
        assert!(
            matches!(
                announced,
                Err(BodyError::TooLarge {
                    limit: 100_000,
                    seen: 100_001
                })
            ),
            "{announced:?}"
        );
        let streamed = read(vec![b'x'; 300_000], true, 100_000).await;
        match streamed {
            Err(BodyError::TooLarge { limit, seen }) => {
                assert_eq!(limit, 100_000);
                assert!(seen > 100_000);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
}
