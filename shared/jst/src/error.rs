/// JST business codes that change what a client does (the rest are carried as numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCode {
    /// 10: bad signature.
    BadSignature,
    /// 100: access token invalid or expired — refresh it.
    TokenExpired,
    /// 110: the caller's IP is not on the app's whitelist.
    IpNotWhitelisted,
    /// 140: bad timestamp or invalid parameters.
    InvalidParameters,
    /// 190: the app has no permission for this endpoint.
    NoPermission,
    /// 199 (more than 5 per second) or 200 (more than 100 per minute): rate limited — wait
    /// and retry the same request.
    Throttled,
    Other(i64),
}

impl ApiCode {
    pub fn from_code(code: i64) -> Self {
        match code {
            10 => Self::BadSignature,
            100 => Self::TokenExpired,
            110 => Self::IpNotWhitelisted,
            140 => Self::InvalidParameters,
            190 => Self::NoPermission,
            199 | 200 => Self::Throttled,
            other => Self::Other(other),
        }
    }
}

/// Errors never contain credentials: requests carry them in the form body, which is not
/// part of any message here.
#[derive(Debug, thiserror::Error)]
pub enum JstError {
    #[error("JST {endpoint}: transport error: {source}")]
    Transport {
        endpoint: &'static str,
        source: reqwest::Error,
    },
    #[error("JST {endpoint}: HTTP {status}")]
    HttpStatus { endpoint: &'static str, status: u16 },
    /// The base URL answered with a redirect, which is never followed.
    #[error("JST {endpoint}: {redirect} (jst.base_url)")]
    Redirect {
        endpoint: &'static str,
        redirect: j2t_upstream::Redirect,
    },
    /// JST refused to refresh the token: the refresh token is expired or revoked. Only a
    /// new token pair in the configuration helps (see README, "Rotating credentials").
    #[error(
        "JST refused the token refresh (code {code}: {msg}): configure a new token pair \
         (jst.access_token, jst.refresh_token) and restart"
    )]
    RefreshRefused { code: i64, msg: String },
    #[error("JST {endpoint}: code {code}: {msg}")]
    Api {
        endpoint: &'static str,
        code: i64,
        msg: String,
    },
    #[error("JST {endpoint}: unreadable response: {reason}")]
    Decode {
        endpoint: &'static str,
        reason: String,
    },
    /// The shared token store or rate-limit state (NATS KV) could not be used.
    #[error("JST client coordination: {reason}")]
    Coordination { reason: String },
}

impl JstError {
    /// Worth retrying the same request later: network trouble, gateways, throttling.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::HttpStatus { .. } | Self::Coordination { .. } => true,
            Self::Api { code, .. } => ApiCode::from_code(*code) == ApiCode::Throttled,
            Self::Decode { .. } | Self::Redirect { .. } | Self::RefreshRefused { .. } => false,
        }
    }

    pub(crate) fn store(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self::Coordination {
            reason: error.to_string(),
        }
    }

    pub fn api_code(&self) -> Option<ApiCode> {
        match self {
            Self::Api { code, .. } => Some(ApiCode::from_code(*code)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> JstError {
        JstError::Api {
            endpoint: "/x",
            code,
            msg: String::new(),
        }
    }

    #[test]
    fn every_documented_code_has_its_meaning() {
        let cases = [
            (10, ApiCode::BadSignature, false),
            (100, ApiCode::TokenExpired, false),
            (110, ApiCode::IpNotWhitelisted, false),
            (140, ApiCode::InvalidParameters, false),
            (190, ApiCode::NoPermission, false),
            (199, ApiCode::Throttled, true),
            (200, ApiCode::Throttled, true),
            (12345, ApiCode::Other(12345), false),
        ];
        for (code, meaning, transient) in cases {
            assert_eq!(api(code).api_code(), Some(meaning), "code {code}");
            assert_eq!(api(code).is_transient(), transient, "code {code}");
        }
    }

    #[test]
    fn gateway_errors_are_transient_and_bad_bodies_are_not() {
        let gateway = JstError::HttpStatus {
            endpoint: "/x",
            status: 502,
        };
        assert!(gateway.is_transient());
        assert_eq!(gateway.api_code(), None);
        let unreadable = JstError::Decode {
            endpoint: "/x",
            reason: "not JSON".into(),
        };
        assert!(!unreadable.is_transient());
    }
}
