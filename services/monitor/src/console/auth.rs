//! The console API's token check: `Authorization: Bearer <token>` on every `/api` call.
//! The token is compared in constant time and never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use j2t_config::{ExposeSecret, SecretString};

/// The configured console token.
pub struct Token(SecretString);

impl Token {
    pub fn new(secret: SecretString) -> Self {
        Self(secret)
    }

    /// Whether an `Authorization` header value carries this token.
    fn accepts(&self, authorization: &[u8]) -> bool {
        let Some(offered) = authorization.strip_prefix(b"Bearer ") else {
            return false;
        };
        constant_time_eq(offered, self.0.expose_secret().as_bytes())
    }
}

/// Middleware: lets the request through only with the right bearer token, else 401.
pub async fn require(State(token): State<Arc<Token>>, request: Request, next: Next) -> Response {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| token.accepts(value.as_bytes()));
    if authorized {
        return next.run(request).await;
    }
    // The path only: the header may hold a mistyped token, which is still a secret.
    tracing::warn!(api_path = %request.uri().path(), "console API call without a valid token");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(serde_json::json!({"error": "a valid console token is required"})),
    )
        .into_response()
}

/// Compares every byte whatever the first difference, so the time taken does not tell an
/// attacker how much of a guess was right (only, at most, the length of the longer input).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let token = Token::new(SecretString::from("s3cr3t"));
        assert!(token.accepts(b"Bearer s3cr3t"));
        for wrong in [
            &b"Bearer s3cr3"[..],
            b"Bearer s3cr3tt",
            b"Bearer S3CR3T",
            b"bearer s3cr3t",
            b"s3cr3t",
            b"Bearer ",
            b"",
        ] {
            assert!(!token.accepts(wrong), "{}", String::from_utf8_lossy(wrong));
        }
    }

    #[test]
    fn equal_inputs_compare_equal_and_any_difference_does_not() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab\0", b"ab"));
    }
}
