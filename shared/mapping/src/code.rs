use md5::{Digest, Md5};

// Crockford's base32: no I, L, O, U — easy to read aloud and to type.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Deterministic ExternalCode of one part of a merged group:
/// `{prefix}{first group value, digits/letters only, ≤ 8}-{10-char hash}-{part}`, e.g.
/// `JT20261125-4K7ZQ0M2XA-1` (≤ 4 + 8 + 1 + 10 + 1 + 3 = 27 characters).
///
/// The hash covers the group key and the sorted io_ids, so the same orders always give the
/// same code, and a later voucher for the same day (other orders) gets a different one.
pub fn external_code(prefix: &str, group: &[String], io_ids: &[i64], part: u32) -> String {
    let mut md5 = Md5::new();
    for value in group {
        md5.update(value.as_bytes());
        md5.update([0x1f]);
    }
    for id in io_ids {
        md5.update(id.to_string().as_bytes());
        md5.update([0x1e]);
    }
    let digest = md5.finalize();
    let mut bits = u64::from_be_bytes(digest[..8].try_into().expect("md5 has 16 bytes"));
    let mut hash = [0u8; 10];
    for c in &mut hash {
        *c = ALPHABET[(bits >> 59) as usize];
        bits <<= 5;
    }
    let head: String = group
        .first()
        .map(|v| {
            v.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{prefix}{head}-{}-{}",
        String::from_utf8_lossy(&hash),
        part.min(999)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_short_and_sensitive_to_content() {
        let group = vec!["2026-11-25".to_string(), "10001".to_string()];
        let a = external_code("JT", &group, &[1, 2, 3], 1);
        assert_eq!(a, external_code("JT", &group, &[1, 2, 3], 1));
        assert!(a.starts_with("JT20261125-"), "{a}");
        assert!(a.len() <= 30);
        assert_ne!(a, external_code("JT", &group, &[1, 2, 4], 1));
        assert_ne!(a, external_code("JT", &group, &[1, 2, 3], 2));
    }
}
