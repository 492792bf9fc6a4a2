use md5::{Digest, Md5};

/// `lowercase_hex(md5(secret + k1 + v1 + k2 + v2 + …))` over every field except `sign`,
/// skipping empty values, keys in ascending byte order.
pub fn sign<'a>(secret: &str, fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut fields: Vec<_> = fields
        .into_iter()
        .filter(|(k, v)| *k != "sign" && !v.is_empty())
        .collect();
    fields.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut md5 = Md5::new();
    md5.update(secret.as_bytes());
    for (k, v) in fields {
        md5.update(k.as_bytes());
        md5.update(v.as_bytes());
    }
    hex::encode(md5.finalize())
}

#[cfg(test)]
mod tests {
    use super::sign;

    // The four golden vectors of `docs/jushuitan-api.md`, "Signature".
    #[test]
    fn vector_a_business_call() {
        let fields = [
            ("access_token", "d7b01bf0842a4742a9450e21ffd95f60"),
            ("app_key", "5b53060f23d84ddf9703056e84fa5a2d"),
            (
                "biz",
                r#"{"page_index":"1","page_size":"100","nicks":["老板"]}"#,
            ),
            ("charset", "utf-8"),
            ("timestamp", "1639128407"),
            ("version", "2"),
        ];
        assert_eq!(
            sign("e9c5ca33fecb404b8e6cdbd0ef4a6d25", fields),
            "395f5a78b446be465ac03a02491296c7"
        );
    }

    #[test]
    fn vector_b_init_token() {
        let fields = [
            ("app_key", "5b53060f23d84ddf9703056e84fa5a2d"),
            ("timestamp", "1639128407"),
            ("grant_type", "authorization_code"),
            ("charset", "utf-8"),
            ("code", "123456"),
        ];
        assert_eq!(
            sign("e9c5ca33fecb404b8e6cdbd0ef4a6d25", fields),
            "05e3a51e19e0883afd1882ccd309e0b9"
        );
    }

    #[test]
    fn vector_c_minimal() {
        let fields = [
            ("timestamp", "100"),
            ("app_key", "app"),
            ("charset", "utf-8"),
        ];
        assert_eq!(sign("secret", fields), "706427ca94e342781ac36d501151cb10");
    }

    #[test]
    fn vector_d_sign_and_empty_values_are_excluded() {
        let fields = [
            ("access_token", "token"),
            ("app_key", "app"),
            ("biz", r#"{"page_index":1,"page_size":50}"#),
            ("charset", "utf-8"),
            ("timestamp", "1785312000"),
            ("version", "2"),
            ("sign", "must-not-sign-itself"),
            ("empty", ""),
        ];
        assert_eq!(sign("secret", fields), "63b407c8cb9317b230c24ec1536f4fa2");
    }
}
