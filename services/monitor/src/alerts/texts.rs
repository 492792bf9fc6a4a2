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

    pub fn zh(&self) -> bool {
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
        Condition::BooksDiffer { .. } => ("账目不符", "Books differ"),
        Condition::ReconcileFailed { .. } => ("对账未能完成", "Reconcile could not run"),
        Condition::ChangedAfterWrite { .. } => ("订单写入后变更", "Order changed after the write"),
        Condition::RefreshRefused { .. } => ("令牌刷新被拒绝", "Token refresh refused"),
        Condition::RefreshExpiring { .. } => ("刷新令牌即将过期", "Refresh token expiring"),
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
        Condition::BooksDiffer {
            from,
            to,
            differing_rows,
            qty_difference,
            amount_difference,
            ..
        } => {
            let (qty, amount) = (number(*qty_difference), number(*amount_difference));
            match (firing, zh) {
                (true, true) => format!(
                    "{from} 至 {to} 聚水潭与 T+ 有 {differing_rows} 行不符（数量差 {qty}，金额差 {amount}）"
                ),
                (true, false) => format!(
                    "JST and T+ differ in {differing_rows} rows for {from} to {to} (|qty| {qty}, |amount| {amount})"
                ),
                (false, true) => "最近一次对账：聚水潭与 T+ 账目一致".into(),
                (false, false) => "The latest reconcile found JST and T+ equal".into(),
            }
        }
        Condition::ReconcileFailed { day, error, .. } => match (firing, zh) {
            (true, true) => format!("{day} 的每日对账未能完成：{error}"),
            (true, false) => format!("The daily reconcile of {day} could not run: {error}"),
            (false, true) => "每日对账已恢复".into(),
            (false, false) => "The daily reconcile runs again".into(),
        },
        Condition::ChangedAfterWrite { io_id, voucher, .. } => match (firing, zh) {
            (true, true) => {
                format!("订单 {io_id} 在写入凭证 {voucher} 后于聚水潭发生变化，T+ 未冲销")
            }
            (true, false) => format!(
                "Order {io_id} changed in JST after it was written in voucher {voucher}; T+ is not corrected"
            ),
            (false, true) => format!("订单 {io_id} 的变更已处理"),
            (false, false) => format!("The change of order {io_id} was dealt with"),
        },
        Condition::RefreshRefused { api, reason, .. } => {
            let api = api_name(api);
            match (firing, zh) {
                (true, true) => format!("{api} 拒绝刷新令牌，调用已停止：{reason}"),
                (true, false) => {
                    format!("{api} refused the token refresh; calls have stopped: {reason}")
                }
                (false, true) => format!("{api} 已重新接受调用"),
                (false, false) => format!("{api} accepts calls again"),
            }
        }
        Condition::RefreshExpiring { api, expires_at } => {
            let api = api_name(api);
            let at = style.time(*expires_at);
            match (firing, zh) {
                (true, true) => format!("{api} 的刷新令牌将于 {at} 过期"),
                (true, false) => format!("The {api} refresh token expires at {at}"),
                (false, true) => format!("{api} 的刷新令牌已更新"),
                (false, false) => format!("The {api} refresh token was renewed"),
            }
        }
    }
}

/// `jst` / `tplus` as people name them.
fn api_name(api: &str) -> &str {
    match api {
        "jst" => "聚水潭 (JST)",
        "tplus" => "T+",
        other => other,
    }
}

/// A quantity or amount: whole numbers as such, others with two decimals.
pub fn number(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Where an io_id behind a difference is, for people.
pub fn whereabouts(style: &Style, explanation: &j2t_reconcile::Explanation) -> String {
    use j2t_reconcile::Whereabouts as W;
    let zh = style.zh();
    let place = match (&explanation.whereabouts, zh) {
        (W::NeverFetched, true) => "从未拉取".to_string(),
        (W::NeverFetched, false) => "never fetched".to_string(),
        (W::InFlight, true) => "处理中，尚未写入".to_string(),
        (W::InFlight, false) => "in flight, not written yet".to_string(),
        (W::DeadLettered { id, reason }, true) => format!("在死信 #{id}（{reason}）"),
        (W::DeadLettered { id, reason }, false) => format!("dead letter #{id} ({reason})"),
        (W::MissingInTplus, true) => "所在凭证在 T+ 中不存在".to_string(),
        (W::MissingInTplus, false) => "its voucher is not in T+".to_string(),
        (W::ChangedAfterWrite, true) => "写入后有变化".to_string(),
        (W::ChangedAfterWrite, false) => "changed after it was written".to_string(),
        (W::NotInJst, true) => "聚水潭中已无此发货单".to_string(),
        (W::NotInJst, false) => "no longer shipped in JST".to_string(),
        // A kind added to the report later: its own words say it.
        #[allow(unreachable_patterns)]
        _ => explanation.detail.clone(),
    };
    let who = match (explanation.io_id, zh) {
        (Some(id), _) => format!("io_id {id}"),
        (None, true) => "凭证".to_string(),
        (None, false) => "voucher".to_string(),
    };
    match (&explanation.voucher, zh) {
        (Some(v), true) => format!("{who}：{place}（凭证 {v}）"),
        (Some(v), false) => format!("{who}: {place} (voucher {v})"),
        (None, true) => format!("{who}：{place}"),
        (None, false) => format!("{who}: {place}"),
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
        Condition::BooksDiffer { day, worst, .. } => {
            lines.push(label("对账日", "Reconciled on", day.to_string()));
            for d in worst {
                let r = &d.row;
                let sides = if zh {
                    format!(
                        "聚水潭 {} / {}，T+ {} / {}",
                        number(r.jst_qty),
                        number(r.jst_amount),
                        number(r.tplus_qty),
                        number(r.tplus_amount)
                    )
                } else {
                    format!(
                        "JST {} / {}, T+ {} / {}",
                        number(r.jst_qty),
                        number(r.jst_amount),
                        number(r.tplus_qty),
                        number(r.tplus_amount)
                    )
                };
                let colon = if zh { "：" } else { ": " };
                lines.push(format!(
                    "{} {} {}{colon}{sides}",
                    r.date, r.warehouse, r.sku
                ));
                for e in &d.explanations {
                    lines.push(format!("↳ {}", whereabouts(style, e)));
                }
            }
        }
        Condition::ReconcileFailed { from, to, .. } => {
            let range = if zh {
                format!("{from} 至 {to}")
            } else {
                format!("{from} to {to}")
            };
            lines.push(label("对账范围", "Range", range));
        }
        Condition::ChangedAfterWrite {
            summary, letter, ..
        } => {
            lines.push(label("变化", "Change", summary.clone()));
            lines.push(label("死信", "Dead letter", letter.to_string()));
        }
        Condition::RefreshRefused { at, .. } => {
            lines.push(label("最近一次", "Last seen", style.time(*at)));
        }
        Condition::RefreshExpiring { expires_at, .. } => {
            lines.push(label("过期时间", "Expires at", style.time(*expires_at)));
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
        Condition::BooksDiffer { .. } => (
            "全部差异见控制台的“对账”面板，或运行 `jst2tplus reconcile --from 日期 --to 日期`；按说明处理（重放死信、补录）后，下一次对账一致时告警自动解除。",
            "See every difference in the console's Books panel or with `jst2tplus reconcile --from DATE --to DATE`; once the causes are fixed (replay dead letters, re-sync), the alert clears when a later reconcile finds the books equal.",
        ),
        Condition::RefreshRefused { .. } | Condition::RefreshExpiring { .. } => (
            "请在聚水潭/畅捷通开放平台重新授权，取得新的令牌对，写入配置（jst.access_token、jst.refresh_token 或 tplus.open_token、tplus.refresh_token）后重启服务；见 README“轮换凭据”。",
            "Re-authorise the app in the JST / Chanjet open platform, put the new pair in the configuration (jst.access_token, jst.refresh_token or tplus.open_token, tplus.refresh_token) and restart the services; see README, \"Rotating credentials\".",
        ),
        Condition::ReconcileFailed { .. } => (
            "请检查 monitor 的日志，以及聚水潭和 T+ 的查询接口是否可用；明天同一时间会再次对账，也可手动运行 `jst2tplus reconcile`。",
            "Check the monitor's logs and whether the JST and T+ query APIs answer; it runs again tomorrow, or run `jst2tplus reconcile` by hand.",
        ),
        Condition::ChangedAfterWrite { .. } => (
            "在 T+ 中手工冲销，然后 `jst2tplus dlq purge` 该死信；或设置 corrections.policy = \"reverse\" 后 `jst2tplus dlq replay`，自动生成冲销凭证。",
            "Correct it in T+ by hand and purge the dead letter, or set corrections.policy = \"reverse\" and `jst2tplus dlq replay` it: a correction voucher is written.",
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

    fn books_differ() -> Condition {
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
        crate::alerts::rules::books(Some(&run), Some(&run)).remove(0)
    }

    #[test]
    fn books_differ_names_the_worst_differences_in_both_languages() {
        let zh = Style::new(Language::Zh, 480);
        let en = Style::new(Language::En, 480);
        let firing = note(Status::Firing, books_differ());
        assert_eq!(
            summary(&zh, &firing),
            "2026-11-24 至 2026-11-30 聚水潭与 T+ 有 2 行不符（数量差 4，金额差 40）"
        );
        assert_eq!(
            summary(&en, &firing),
            "JST and T+ differ in 2 rows for 2026-11-24 to 2026-11-30 (|qty| 4, |amount| 40)"
        );
        let lines = facts(&zh, &firing);
        assert_eq!(lines[0], "对账日：2026-12-01");
        assert_eq!(lines[1], "2026-11-28 WH01 SKU-A：聚水潭 3 / 30，T+ 0 / 0");
        assert_eq!(
            lines[2],
            "↳ io_id 101：所在凭证在 T+ 中不存在（凭证 J2T-20261128-WH01）"
        );
        assert_eq!(lines[4], "2026-11-29 WH01 SKU-B：聚水潭 1 / 10，T+ 2 / 20");
        assert_eq!(
            lines[5],
            "↳ io_id 201：写入后有变化（凭证 J2T-20261129-WH01）"
        );
        let lines = facts(&en, &firing);
        assert_eq!(lines[1], "2026-11-28 WH01 SKU-A: JST 3 / 30, T+ 0 / 0");
        assert_eq!(
            lines[2],
            "↳ io_id 101: its voucher is not in T+ (voucher J2T-20261128-WH01)"
        );
        assert_eq!(
            summary(&en, &note(Status::Resolved, books_differ())),
            "The latest reconcile found JST and T+ equal"
        );
        assert_eq!(title(&zh, &books_differ()), "账目不符");
    }

    #[test]
    fn a_failed_reconcile_says_why() {
        let failed = Condition::ReconcileFailed {
            day: "2026-12-01".parse().expect("date"),
            from: "2026-11-24".parse().expect("date"),
            to: "2026-11-30".parse().expect("date"),
            error: "T+: connection refused".into(),
        };
        let zh = Style::new(Language::Zh, 480);
        let en = Style::new(Language::En, 480);
        assert_eq!(
            summary(&zh, &note(Status::Firing, failed.clone())),
            "2026-12-01 的每日对账未能完成：T+: connection refused"
        );
        assert_eq!(
            summary(&en, &note(Status::Firing, failed.clone())),
            "The daily reconcile of 2026-12-01 could not run: T+: connection refused"
        );
        assert!(
            facts(&en, &note(Status::Firing, failed.clone()))
                .contains(&"Range: 2026-11-24 to 2026-11-30".into())
        );
        assert!(hint(&zh, &failed).contains("jst2tplus reconcile"));
    }

    #[test]
    fn numbers_are_whole_or_two_decimals() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(40.5), "40.50");
        assert_eq!(number(0.1 + 0.2), "0.30");
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
