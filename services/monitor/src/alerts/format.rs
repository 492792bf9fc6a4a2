//! The bodies receivers expect: generic JSON (for Alertmanager-style webhooks and scripts),
//! the DingTalk robot's and the WeCom robot's markdown messages.

use serde_json::{Value, json};

use super::rules::rfc3339;
use super::state::{Notification, Status};
use super::texts::{self, Style};

/// `monitor.webhooks.<name>.format`, parsed at load.
pub use j2t_config::WebhookFormat as Format;

/// The robots answer HTTP 200 even when they refuse a message; the verdict is the `errcode`
/// in the body.
pub fn answers_with_errcode(format: Format) -> bool {
    matches!(format, Format::DingTalk | Format::WeCom)
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
    }
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

    #[test]
    fn every_format_name_in_the_config_is_known() {
        for name in ["generic", "dingtalk", "wecom"] {
            assert!(name.parse::<Format>().is_ok(), "{name}");
        }
        let err = "slack".parse::<Format>().expect_err("unknown format");
        assert_eq!(
            err,
            "`slack` is not a webhook format; use generic, dingtalk or wecom"
        );
    }
}
