//! The bodies receivers expect: generic JSON (for Alertmanager-style webhooks and scripts),
//! the DingTalk robot's and the WeCom robot's markdown messages.

use serde_json::{Value, json};

use super::digest::{self, Digest};
use super::rules::rfc3339;
use super::state::{Notification, Status};
use super::texts::{self, Style};

/// `monitor.webhooks.<name>.format`, parsed at load.
pub use j2t_config::WebhookFormat as Format;

/// The robots answer HTTP 200 even when they refuse a message; the verdict is the `errcode`
/// in the body.
pub fn answers_with_errcode(format: Format) -> bool {
    matches!(format, Format::DingTalk | Format::WeCom | Format::Feishu)
}

pub fn render(format: Format, style: &Style, note: &Notification) -> Value {
    match format {
        Format::Generic => generic(style, note),
        Format::DingTalk => {
            let tag = texts::status_tag(style, note.status);
            json!({
                "msgtype": "markdown",
                "markdown": {
                    // The title is what the chat list previews; "jst2tplus" in it also
                    // satisfies a robot whose security setting is the keyword "jst2tplus".
                    "title": format!("jst2tplus {tag} {}", texts::title(style, &note.condition)),
                    "text": markdown(style, note, tag),
                }
            })
        }
        Format::WeCom => {
            let (color, tag) = match note.status {
                Status::Firing => ("warning", texts::status_tag(style, note.status)),
                Status::Resolved => ("info", texts::status_tag(style, note.status)),
            };
            json!({
                "msgtype": "markdown",
                "markdown": {
                    "content": markdown(style, note, &format!("<font color=\"{color}\">{tag}</font>")),
                }
            })
        }
        Format::Feishu => {
            let tag = texts::status_tag(style, note.status);
            feishu_text(plain(style, note, tag))
        }
    }
}

/// Feishu's text message (`timestamp` and `sign` are added by `sign` when configured).
fn feishu_text(text: String) -> Value {
    json!({ "msg_type": "text", "content": { "text": text } })
}

/// The message as plain text (Feishu's text messages show no markdown).
fn plain(style: &Style, note: &Notification, tag: &str) -> String {
    let mut text = format!(
        "jst2tplus {tag} {}\n{}\n",
        texts::title(style, &note.condition),
        texts::summary(style, note)
    );
    for line in texts::facts(style, note) {
        text.push_str("- ");
        text.push_str(&line);
        text.push('\n');
    }
    if note.status == Status::Firing {
        text.push_str(texts::hint(style, &note.condition));
        text.push('\n');
    }
    text.push_str(&style.time(note.at));
    text
}

fn generic(style: &Style, note: &Notification) -> Value {
    json!({
        "status": note.status.as_str(),
        "alert": note.condition.key(),
        "severity": note.condition.severity().as_str(),
        "summary": texts::summary(style, note),
        "details": note.condition.details(),
        "since": rfc3339(note.since),
        "at": rfc3339(note.at),
    })
}

/// The message both robots show: a heading, the summary, the facts, and for a firing alert
/// what to do.
fn markdown(style: &Style, note: &Notification, tag: &str) -> String {
    let mut text = format!(
        "### {tag} {}\n\n**{}**\n\n",
        texts::title(style, &note.condition),
        texts::summary(style, note)
    );
    for line in texts::facts(style, note) {
        text.push_str("- ");
        text.push_str(&line);
        text.push('\n');
    }
    if note.status == Status::Firing {
        text.push_str("\n> ");
        text.push_str(texts::hint(style, &note.condition));
        text.push('\n');
    }
    text.push_str(&format!("\njst2tplus · {}", style.time(note.at)));
    text
}

/// The daily digest's body for `format`: the same shapes as the alerts (generic JSON with
/// `status` = `digest`, or a robot's markdown).
pub fn render_digest(format: Format, style: &Style, digest: &Digest) -> Value {
    let title = digest::title(style, digest);
    let lines = digest::lines(style, digest);
    let list = |lines: &[String]| lines.iter().map(|l| format!("- {l}\n")).collect::<String>();
    let footer = format!("\njst2tplus · {}", style.time(digest.at));
    match format {
        Format::Generic => json!({
            "status": "digest",
            "alert": "daily_digest",
            "severity": "info",
            "summary": digest::books_line(style, &digest.books),
            "lines": lines,
            "details": digest::details(digest),
            "at": rfc3339(digest.at),
        }),
        Format::DingTalk => json!({
            "msgtype": "markdown",
            "markdown": {
                "title": format!("jst2tplus {title}"),
                "text": format!("### {title}\n\n{}{footer}", list(&lines)),
            }
        }),
        Format::WeCom => {
            // The books line in colour: red-ish when they differ or could not be checked.
            let mut lines = lines;
            if let Some(books) = lines.last_mut() {
                let color = if digest.books.bad() {
                    "warning"
                } else {
                    "info"
                };
                *books = format!("<font color=\"{color}\">{books}</font>");
            }
            json!({
                "msgtype": "markdown",
                "markdown": {
                    "content": format!("### {title}\n\n{}{footer}", list(&lines)),
                }
            })
        }
        Format::Feishu => feishu_text(format!("jst2tplus {title}\n{}{footer}", list(&lines))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::Condition;
    use crate::alerts::texts::Language;
    use chrono::{DateTime, Utc};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
    }

    fn dead_letters(status: Status) -> Notification {
        Notification {
            status,
            condition: Condition::DeadLetters {
                total: 50,
                by_reason: [("writer.rejected".to_string(), 50)].into(),
            },
            since: t(0),
            at: t(30),
        }
    }

    fn zh() -> Style {
        Style::new(Language::Zh, 480)
    }

    fn en() -> Style {
        Style::new(Language::En, 480)
    }

    #[test]
    fn generic_has_the_documented_fields() {
        let body = render(Format::Generic, &en(), &dead_letters(Status::Firing));
        assert_eq!(
            body,
            json!({
                "status": "firing",
                "alert": "dead_letters",
                "severity": "warning",
                "summary": "50 dead letters wait for an operator",
                "details": {"total": 50, "by_reason": {"writer.rejected": 50}},
                "since": "2027-01-15T08:00:00Z",
                "at": "2027-01-15T08:00:30Z",
            })
        );
        let resolved = render(Format::Generic, &zh(), &dead_letters(Status::Resolved));
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["summary"], "死信已处理完毕");
    }

    #[test]
    fn dingtalk_is_a_markdown_robot_message() {
        let body = render(Format::DingTalk, &zh(), &dead_letters(Status::Firing));
        let object = body.as_object().expect("an object");
        assert_eq!(object.len(), 2);
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["title"], "jst2tplus [告警] 死信");
        let text = body["markdown"]["text"].as_str().expect("text");
        assert!(text.starts_with("### [告警] 死信\n\n**有 50 条死信等待处理**"));
        assert!(text.contains("- writer.rejected：50\n"));
        assert!(text.contains("- 开始于：2027-01-15 16:00:00\n"));
        assert!(text.contains("jst2tplus dlq replay"));
        assert!(text.ends_with("jst2tplus · 2027-01-15 16:00:30"));
    }

    #[test]
    fn dingtalk_resolved_has_no_hint() {
        let body = render(Format::DingTalk, &en(), &dead_letters(Status::Resolved));
        assert_eq!(
            body["markdown"]["title"],
            "jst2tplus [RESOLVED] Dead letters"
        );
        let text = body["markdown"]["text"].as_str().expect("text");
        assert!(text.contains("**No dead letters wait any more**"));
        assert!(text.contains("- Lasted: 30s\n"));
        assert!(!text.contains("dlq replay"));
    }

    #[test]
    fn wecom_is_a_markdown_robot_message_with_colour() {
        let body = render(Format::WeCom, &zh(), &dead_letters(Status::Firing));
        assert_eq!(body["msgtype"], "markdown");
        let markdown = body["markdown"].as_object().expect("an object");
        assert_eq!(markdown.len(), 1);
        let content = markdown["content"].as_str().expect("content");
        assert!(content.starts_with("### <font color=\"warning\">[告警]</font> 死信"));
        assert!(content.contains("有 50 条死信等待处理"));
        let resolved = render(Format::WeCom, &en(), &dead_letters(Status::Resolved));
        let content = resolved["markdown"]["content"].as_str().expect("content");
        assert!(content.starts_with("### <font color=\"info\">[RESOLVED]</font> Dead letters"));
    }

    fn books_differ(status: Status) -> Notification {
        use crate::books::record::RunRecord;
        use crate::books::record::tests::{date, differing_report};
        let run = RunRecord::claim(
            date("2026-12-01"),
            date("2026-11-24"),
            date("2026-11-30"),
            "h".into(),
            t(0),
        )
        .finish(Ok(&differing_report()), t(60));
        Notification {
            status,
            condition: crate::alerts::rules::books(Some(&run), Some(&run)).remove(0),
            since: t(0),
            at: t(30),
        }
    }

    #[test]
    fn books_differ_in_every_format() {
        let generic = render(Format::Generic, &en(), &books_differ(Status::Firing));
        assert_eq!(generic["alert"], "books_differ");
        assert_eq!(generic["severity"], "critical");
        assert_eq!(generic["details"]["worst"][0]["sku"], "SKU-A");
        assert_eq!(generic["details"]["worst"][0]["jst_qty"], 3.0);
        let ding = render(Format::DingTalk, &zh(), &books_differ(Status::Firing));
        assert_eq!(ding["markdown"]["title"], "jst2tplus [告警] 账目不符");
        let text = ding["markdown"]["text"].as_str().expect("text");
        assert!(
            text.contains("- 2026-11-28 WH01 SKU-A：聚水潭 3 / 30，T+ 0 / 0\n"),
            "{text}"
        );
        assert!(
            text.contains("- ↳ io_id 101：所在凭证在 T+ 中不存在"),
            "{text}"
        );
        assert!(text.contains("jst2tplus reconcile"), "{text}");
        let wecom = render(Format::WeCom, &en(), &books_differ(Status::Resolved));
        let content = wecom["markdown"]["content"].as_str().expect("content");
        assert!(
            content.starts_with("### <font color=\"info\">[RESOLVED]</font> Books differ"),
            "{content}"
        );
        assert!(
            content.contains("**The latest reconcile found JST and T+ equal**"),
            "{content}"
        );
    }

    #[test]
    fn the_digest_in_every_format() {
        use crate::alerts::digest::Books;
        use crate::alerts::digest::tests::digest;
        use crate::books::record::tests::date;
        let differ = digest(Books::Differ {
            from: date("2026-11-24"),
            to: date("2026-11-30"),
            rows: 2,
            qty: 4.0,
            amount: 40.0,
        });
        let generic = render_digest(Format::Generic, &en(), &differ);
        assert_eq!(generic["status"], "digest");
        assert_eq!(generic["alert"], "daily_digest");
        assert_eq!(
            generic["summary"],
            "Books: 2 rows differ (|qty| 4, |amount| 40; 2026-11-24 to 2026-11-30)"
        );
        assert_eq!(generic["details"]["dead_letters"], 2);
        assert_eq!(generic["lines"].as_array().map(Vec::len), Some(4));
        let ding = render_digest(Format::DingTalk, &zh(), &differ);
        assert_eq!(ding["markdown"]["title"], "jst2tplus 每日摘要 2026-12-01");
        let text = ding["markdown"]["text"].as_str().expect("text");
        assert!(
            text.starts_with("### 每日摘要 2026-12-01\n\n- 订单：已拉取 1200（较上次摘要 +200）\n"),
            "{text}"
        );
        assert!(text.ends_with("jst2tplus · 2027-01-15 16:00:00"), "{text}");
        let wecom = render_digest(Format::WeCom, &zh(), &differ);
        let content = wecom["markdown"]["content"].as_str().expect("content");
        assert!(
            content.contains("- <font color=\"warning\">账目：不符，2 行"),
            "{content}"
        );
        let equal = digest(Books::Equal {
            from: date("2026-11-24"),
            to: date("2026-11-30"),
        });
        let wecom = render_digest(Format::WeCom, &en(), &equal);
        let content = wecom["markdown"]["content"].as_str().expect("content");
        assert!(
            content.contains("- <font color=\"info\">Books: equal"),
            "{content}"
        );
    }

    #[test]
    fn every_format_name_in_the_config_is_known() {
        for name in ["generic", "dingtalk", "wecom", "feishu"] {
            assert!(name.parse::<Format>().is_ok(), "{name}");
        }
        let err = "slack".parse::<Format>().expect_err("unknown format");
        assert_eq!(
            err,
            "`slack` is not a webhook format; use generic, dingtalk, wecom or feishu"
        );
    }

    #[test]
    fn feishu_gets_a_text_message_with_the_facts() {
        let body = render(Format::Feishu, &en(), &dead_letters(Status::Firing));
        assert_eq!(body["msg_type"], "text");
        let text = body["content"]["text"].as_str().expect("text");
        assert!(text.starts_with("jst2tplus "), "{text}");
        assert!(!text.contains("###"), "{text}");
        assert!(answers_with_errcode(Format::Feishu));
    }
}
