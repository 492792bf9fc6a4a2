use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// JST's timestamp format (local time, no zone).
pub const JST_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A closed interval of JST time, `[start, end]` at second resolution. Consecutive windows
/// touch without overlapping: the next one starts one second after this one ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    #[serde(with = "jst_time")]
    pub start: NaiveDateTime,
    #[serde(with = "jst_time")]
    pub end: NaiveDateTime,
}

impl Window {
    /// Seconds of JST time the window covers (both ends included).
    pub fn secs(&self) -> u64 {
        ((self.end - self.start).num_seconds() + 1).max(0) as u64
    }

    /// A name usable as a NATS subject token, e.g. `20261125000000-20261125235959`.
    pub fn id(&self) -> String {
        format!(
            "{}-{}",
            self.start.format(ID_TIME_FORMAT),
            self.end.format(ID_TIME_FORMAT)
        )
    }

    /// The window an [`id`](Window::id) names.
    pub fn from_id(id: &str) -> Option<Window> {
        let (start, end) = id.split_once('-')?;
        Some(Window {
            start: NaiveDateTime::parse_from_str(start, ID_TIME_FORMAT).ok()?,
            end: NaiveDateTime::parse_from_str(end, ID_TIME_FORMAT).ok()?,
        })
    }
}

const ID_TIME_FORMAT: &str = "%Y%m%d%H%M%S";

/// Published by the fetcher after every order of a window has been stored (PubAcked): the
/// signal that the window's merge groups are complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowClosed {
    pub task: String,
    pub window: Window,
    /// Subject holding the window's raw orders.
    pub orders_subject: String,
    /// Orders the fetcher published for this window.
    pub orders: u64,
}

/// Serde adapter for `NaiveDateTime` in JST's `yyyy-MM-dd HH:mm:ss` format.
pub mod jst_time {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format(super::JST_TIME_FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// Parses `yyyy-MM-dd HH:mm:ss`; the error names the text.
    pub fn parse(text: &str) -> Result<NaiveDateTime, String> {
        NaiveDateTime::parse_from_str(text.trim(), super::JST_TIME_FORMAT)
            .map_err(|e| format!("`{text}` is not a time like 2026-11-01 00:00:00 ({e})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_id_is_a_subject_token_and_json_uses_jst_time() {
        let t = |s| NaiveDateTime::parse_from_str(s, JST_TIME_FORMAT).expect("valid");
        let w = Window {
            start: t("2026-11-25 00:00:00"),
            end: t("2026-11-25 23:59:59"),
        };
        assert_eq!(w.id(), "20261125000000-20261125235959");
        let json = serde_json::to_string(&w).expect("serialises");
        assert_eq!(
            json,
            r#"{"start":"2026-11-25 00:00:00","end":"2026-11-25 23:59:59"}"#
        );
        assert_eq!(serde_json::from_str::<Window>(&json).expect("parses"), w);
        assert_eq!(Window::from_id(&w.id()), Some(w));
        assert_eq!(Window::from_id("20261125000000"), None);
        let err = jst_time::parse("2026-11-25T00:00").expect_err("not JST's format");
        assert!(err.contains("`2026-11-25T00:00`"), "{err}");
    }
}
