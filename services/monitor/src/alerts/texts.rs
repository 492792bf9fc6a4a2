//! What alert messages say, in Chinese and English: a one-line summary, a list of facts and
//! a hint at what to do. The payload shapes around them live in `format`.

use chrono::{DateTime, FixedOffset, Offset, Utc};
/// `monitor.language`, parsed at load.
pub use j2t_config::Language;

use super::rules::Condition;
use super::state::{Notification, Status};

/// How messages are written: language, and the zone times are shown in (JST's, which is the
/// operators' local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub language: Language,
    pub zone: FixedOffset,
}

impl Style {
    pub fn new(language: Language, utc_offset_minutes: i32) -> Self {
        // An offset beyond ±24 h cannot be a zone; show UTC rather than fail an alert.
        let zone = FixedOffset::east_opt(utc_offset_minutes.saturating_mul(60))
            .unwrap_or_else(|| Utc.fix());
        Self { language, zone }
    }

    pub fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn zh(&self) -> bool {
        self.language == Language::Zh
    }
}

/// The rule's name for people.
pub fn title(style: &Style, condition: &Condition) -> &'static str {
    let (zh, en) = match condition {
        Condition::DeadLetters { .. } => ("死信", "Dead letters"),
        Condition::NoWrites { .. } => ("T+ 写入停滞", "No writes to T+"),
        Condition::CursorLag { .. } => ("同步落后", "Sync lagging"),
        Condition::QuotaExhausted { .. } => ("T+ 额度用尽", "T+ quota exhausted"),
        Condition::AuthFailures { .. } => ("T+ 认证失败", "T+ auth failures"),
        Condition::StorageFull { .. } => ("NATS 存储将满", "NATS storage filling up"),
    };
    if style.zh() { zh } else { en }
}

/// "[告警]" / "[已恢复]" and their English twins.
pub fn status_tag(style: &Style, status: Status) -> &'static str {
    match (status, style.zh()) {
        (Status::Firing, true) => "[告警]",
        (Status::Resolved, true) => "[已恢复]",
        (Status::Firing, false) => "[FIRING]",
        (Status::Resolved, false) => "[RESOLVED]",
    }
}

/// One line saying what is (or was) wrong.
pub fn summary(style: &Style, note: &Notification) -> String {
    let zh = style.zh();
    let firing = note.status == Status::Firing;
    match &note.condition {
        Condition::DeadLetters { total, .. } => match (firing, zh) {
            (true, true) => format!("有 {total} 条死信等待处理"),
            (true, false) => format!("{total} dead letters wait for an operator"),
            (false, true) => "死信已处理完毕".into(),
            (false, false) => "No dead letters wait any more".into(),
        },
        Condition::NoWrites {
            stalled_since,
            waiting,
            ..
        } => {
            let minutes = (note.at - *stalled_since).num_minutes();
            match (firing, zh) {
                (true, true) => {
                    format!("已 {minutes} 分钟没有凭证写入 T+，{waiting} 张凭证在等待")
                }
                (true, false) => {
                    format!("No voucher written to T+ for {minutes} minutes while {waiting} wait")
                }
                (false, true) => "凭证已恢复写入 T+".into(),
                (false, false) => "Vouchers are being written to T+ again".into(),
            }
        }
        Condition::CursorLag { task, lag_secs, .. } => {
            let lag = duration(style, *lag_secs);
            match (firing, zh) {
                (true, true) => format!("同步任务 {task} 落后 {lag}"),
                (true, false) => format!("Sync task {task} is {lag} behind"),
                (false, true) => format!("同步任务 {task} 已追上"),
                (false, false) => format!("Sync task {task} has caught up"),
            }
        }
        Condition::QuotaExhausted { .. } => match (firing, zh) {
            (true, true) => "T+ 接口调用额度已用尽".into(),
            (true, false) => "The T+ API quota is exhausted".into(),
            (false, true) => "T+ 额度告警已解除".into(),
            (false, false) => "The T+ quota alert has cleared".into(),
        },
        Condition::AuthFailures { count, .. } => match (firing, zh) {
            (true, true) => format!("T+ 认证连续失败 {count} 次"),
            (true, false) => format!("T+ rejected our credentials {count} times in a row"),
            (false, true) => "T+ 认证已恢复".into(),
            (false, false) => "T+ accepts our credentials again".into(),
        },
        Condition::StorageFull {
            store,
            bytes,
            max_bytes,
        } => {
            let percent = (*bytes as f64 * 100.0 / (*max_bytes).max(1) as f64).round();
            match (firing, zh) {
                (true, true) => format!("{store} 已用容量上限的 {percent}%"),
                (true, false) => format!("{store} holds {percent}% of its byte limit"),
                (false, true) => format!("{store} 的用量已回落"),
                (false, false) => format!("{store} is below the storage threshold again"),
            }
        }
    }
}

/// The facts behind the summary, one per line.
pub fn facts(style: &Style, note: &Notification) -> Vec<String> {
    let zh = style.zh();
    let label = |zh_label: &str, en_label: &str, value: String| {
        if zh {
            format!("{zh_label}：{value}")
        } else {
            format!("{en_label}: {value}")
        }
    };
    let never = || if zh { "从未" } else { "never" }.to_string();
    let mut lines = Vec::new();
    match &note.condition {
        Condition::DeadLetters { by_reason, .. } => {
            lines.extend(
                by_reason
                    .iter()
                    .map(|(reason, n)| label(reason, reason, n.to_string())),
            );
        }
        Condition::NoWrites {
            last_write,
            waiting,
            ..
        } => {
            let last = last_write.map_or_else(never, |w| style.time(w));
            lines.push(label("最后一次写入", "Last write", last));
            lines.push(label("等待的凭证", "Vouchers waiting", waiting.to_string()));
        }
        Condition::CursorLag { next_start, .. } => {
            lines.push(label("已同步到", "Synced up to", next_start.clone()));
        }
        Condition::QuotaExhausted { at } => {
            lines.push(label("最近一次", "Last hit", style.time(*at)));
        }
        Condition::AuthFailures { last_at, .. } => {
            let last = last_at.map_or_else(never, |a| style.time(a));
            lines.push(label("最近一次失败", "Last failure", last));
        }
        Condition::StorageFull {
            bytes, max_bytes, ..
        } => {
            lines.push(label("已用字节", "Bytes used", bytes.to_string()));
            lines.push(label("上限字节", "Byte limit", max_bytes.to_string()));
        }
    }
    let severity = note.condition.severity().as_str().to_string();
    lines.push(label("级别", "Severity", severity));
    lines.push(label("开始于", "Since", style.time(note.since)));
    if note.status == Status::Resolved {
        let lasted = duration(style, (note.at - note.since).num_seconds());
        lines.push(label("持续", "Lasted", lasted));
    }
    lines
}

/// What an operator should do about a firing alert.
pub fn hint(style: &Style, condition: &Condition) -> &'static str {
    let (zh, en) = match condition {
        Condition::DeadLetters { .. } => (
            "用 `jst2tplus dlq list` 查看原因，修复后用 `jst2tplus dlq replay` 重放。",
            "Inspect with `jst2tplus dlq list`, fix the cause, then `jst2tplus dlq replay`.",
        ),
        Condition::NoWrites { .. } => (
            "请检查 writer 的日志，以及 T+ 是否可以访问。",
            "Check the writer's logs and whether T+ is reachable.",
        ),
        Condition::CursorLag { .. } => (
            "请检查 fetcher 是否在运行，以及聚水潭是否在限流。",
            "Check that the fetcher runs and whether Jushuitan throttles it.",
        ),
        Condition::QuotaExhausted { .. } => (
            "writer 会暂停写入，额度恢复后自动继续；如经常发生，请向畅捷通申请更高额度。",
            "The writer pauses and resumes by itself when the quota is back; if this recurs, ask Chanjet for a higher quota.",
        ),
        Condition::AuthFailures { .. } => (
            "请检查 T+ 的 app_key、app_secret 和令牌配置。",
            "Check the T+ app_key, app_secret and tokens in the configuration.",
        ),
        Condition::StorageFull { .. } => (
            "存满后新消息会被拒绝，该环节将停止（不会丢数据）。请检查下游是否在消费，清理死信，或调高 nats.*_max_bytes 并扩容磁盘。",
            "Once full, new messages are refused and that stage stops (nothing is lost). Check that the next stage consumes, clear dead letters, or raise nats.*_max_bytes and the disk.",
        ),
    };
    if style.zh() { zh } else { en }
}

/// "2 小时 5 分钟" / "2h 5m": whole minutes are precise enough for alerts.
pub fn duration(style: &Style, secs: i64) -> String {
    let secs = secs.max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let units: [(i64, &str, &str); 3] = [
        (days, " 天", "d"),
        (hours, " 小时", "h"),
        (minutes, " 分钟", "m"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, zh, en)| format!("{n}{}", if style.zh() { zh } else { en }))
        .collect();
    match (parts.is_empty(), style.zh()) {
        (true, true) => format!("{secs} 秒"),
        (true, false) => format!("{secs}s"),
        (false, _) => parts.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
    }

    fn note(status: Status, condition: Condition) -> Notification {
        Notification {
            status,
            condition,
            since: t(0),
            at: t(3 * 3600 + 120),
        }
    }

    #[test]
    fn durations_read_naturally() {
        let zh = Style::new(Language::Zh, 480);
        let en = Style::new(Language::En, 480);
        assert_eq!(duration(&zh, 7500), "2 小时 5 分钟");
        assert_eq!(duration(&en, 90_060), "1d 1h 1m");
        assert_eq!(duration(&en, 42), "42s");
    }

    #[test]
    fn times_are_shown_in_the_operators_zone() {
        let style = Style::new(Language::Zh, 480);
        let at = DateTime::parse_from_rfc3339("2027-01-01T16:30:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(style.time(at), "2027-01-02 00:30:00");
    }

    #[test]
    fn summaries_follow_the_language() {
        let lag = Condition::CursorLag {
            task: "default".into(),
            lag_secs: 7200,
            next_start: "2027-01-01 00:00:00".into(),
        };
        let zh = Style::new(Language::Zh, 480);
        let en = Style::new(Language::En, 480);
        assert_eq!(
            summary(&zh, &note(Status::Firing, lag.clone())),
            "同步任务 default 落后 2 小时"
        );
        assert_eq!(
            summary(&en, &note(Status::Resolved, lag.clone())),
            "Sync task default has caught up"
        );
        let stalled = Condition::NoWrites {
            stalled_since: t(0),
            last_write: None,
            waiting: 4,
        };
        assert_eq!(
            summary(&en, &note(Status::Firing, stalled.clone())),
            "No voucher written to T+ for 182 minutes while 4 wait"
        );
        assert!(facts(&zh, &note(Status::Firing, stalled)).contains(&"最后一次写入：从未".into()));
    }

    #[test]
    fn resolved_facts_say_how_long_it_lasted() {
        let en = Style::new(Language::En, 0);
        let lines = facts(
            &en,
            &note(Status::Resolved, Condition::QuotaExhausted { at: t(60) }),
        );
        assert_eq!(
            lines,
            [
                "Last hit: 2027-01-15 08:01:00",
                "Severity: critical",
                "Since: 2027-01-15 08:00:00",
                "Lasted: 3h 2m",
            ]
        );
    }
}
