//! The daily digest: a short message to every webhook once a day (after the daily
//! reconcile): orders fetched, vouchers written and waiting, dead letters, and whether the
//! books are equal. Built from the pipeline snapshot and the reconcile bucket; the wording is
//! here (zh/en), the bodies in `format`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use j2t_stores::PipelineStatus;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::texts::{Style, number};
use crate::books::record::{RunRecord, RunState};

/// What the bucket keeps of a digest sent: the counters, so the next one can say what is new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestRecord {
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub orders_stored: u64,
    pub written_stored: u64,
}

/// The books as the digest tells them.
#[derive(Debug, Clone, PartialEq)]
pub enum Books {
    /// `monitor.reconcile_enabled` is off.
    Off,
    /// On, but no run has compared the books yet.
    NotYet,
    Equal {
        from: NaiveDate,
        to: NaiveDate,
    },
    Differ {
        from: NaiveDate,
        to: NaiveDate,
        rows: u64,
        qty: f64,
        amount: f64,
    },
    /// Today's run could not run.
    Failed {
        error: String,
    },
}

impl Books {
    /// From the latest run and the latest that compared the books; `day`: today.
    pub fn from_runs(
        enabled: bool,
        day: NaiveDate,
        latest: Option<&RunRecord>,
        checked: Option<&RunRecord>,
    ) -> Self {
        if !enabled {
            return Books::Off;
        }
        if let Some(run) = latest.filter(|r| r.day == day && r.state == RunState::Failed) {
            return Books::Failed {
                error: run.error.clone().unwrap_or_default(),
            };
        }
        match checked.and_then(|r| r.outcome.as_ref().map(|o| (r, o))) {
            None => Books::NotYet,
            Some((run, _)) if run.state == RunState::Equal => Books::Equal {
                from: run.from,
                to: run.to,
            },
            Some((run, outcome)) => Books::Differ {
                from: run.from,
                to: run.to,
                rows: outcome.differing_rows,
                qty: outcome.qty_difference,
                amount: outcome.amount_difference,
            },
        }
    }

    fn as_str(&self) -> &'static str {
        match self {
            Books::Off => "off",
            Books::NotYet => "not_yet",
            Books::Equal { .. } => "equal",
            Books::Differ { .. } => "differ",
            Books::Failed { .. } => "failed",
        }
    }

    /// Whether the digest should look alarming (WeCom colours it).
    pub fn bad(&self) -> bool {
        matches!(self, Books::Differ { .. } | Books::Failed { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// The JST day it is sent on.
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub orders_stored: u64,
    /// Since the previous digest (`None`: no previous one, or the stream expired more than
    /// arrived, so there is no honest figure).
    pub orders_new: Option<u64>,
    pub written_stored: u64,
    pub written_new: Option<u64>,
    /// Vouchers built and not yet written.
    pub waiting: u64,
    pub dead_letters: BTreeMap<String, u64>,
    pub books: Books,
}

impl Digest {
    pub fn new(
        day: NaiveDate,
        status: &PipelineStatus,
        previous: Option<&DigestRecord>,
        books: Books,
    ) -> Self {
        let new = |now: u64, before: Option<u64>| before.and_then(|b| now.checked_sub(b));
        Self {
            day,
            at: status.at,
            orders_stored: status.orders.stored,
            orders_new: new(status.orders.stored, previous.map(|p| p.orders_stored)),
            written_stored: status.written.stored,
            written_new: new(status.written.stored, previous.map(|p| p.written_stored)),
            waiting: status.vouchers.backlog + status.vouchers.in_flight,
            dead_letters: status
                .dead_letters
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            books,
        }
    }

    pub fn record(&self) -> DigestRecord {
        DigestRecord {
            day: self.day,
            at: self.at,
            orders_stored: self.orders_stored,
            written_stored: self.written_stored,
        }
    }

    fn dead_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

pub fn title(style: &Style, digest: &Digest) -> String {
    if style.zh() {
        format!("每日摘要 {}", digest.day)
    } else {
        format!("Daily digest {}", digest.day)
    }
}

/// The books in one line (also the generic body's `summary`).
pub fn books_line(style: &Style, books: &Books) -> String {
    let zh = style.zh();
    match books {
        Books::Off if zh => "账目：未开启每日对账（monitor.reconcile_enabled）".into(),
        Books::Off => "Books: daily reconcile off (monitor.reconcile_enabled)".into(),
        Books::NotYet if zh => "账目：尚未对账".into(),
        Books::NotYet => "Books: not reconciled yet".into(),
        Books::Equal { from, to } if zh => format!("账目：一致（{from} 至 {to}）"),
        Books::Equal { from, to } => format!("Books: equal ({from} to {to})"),
        Books::Differ {
            from,
            to,
            rows,
            qty,
            amount,
        } => {
            let (qty, amount) = (number(*qty), number(*amount));
            if zh {
                format!("账目：不符，{rows} 行（数量差 {qty}，金额差 {amount}；{from} 至 {to}）")
            } else {
                format!(
                    "Books: {rows} rows differ (|qty| {qty}, |amount| {amount}; {from} to {to})"
                )
            }
        }
        Books::Failed { error } if zh => format!("账目：今日对账未能完成：{error}"),
        Books::Failed { error } => format!("Books: today's reconcile could not run: {error}"),
    }
}

/// The digest's lines, books last.
pub fn lines(style: &Style, digest: &Digest) -> Vec<String> {
    let zh = style.zh();
    let since = |new: Option<u64>| match (new, zh) {
        (Some(n), true) => format!("（较上次摘要 +{n}）"),
        (Some(n), false) => format!(" (+{n} since the last digest)"),
        (None, _) => String::new(),
    };
    let dead = digest.dead_total();
    let reasons: Vec<String> = digest
        .dead_letters
        .iter()
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    let dead_line = match (dead, zh) {
        (0, true) => "死信：无".to_string(),
        (0, false) => "Dead letters: none".to_string(),
        (n, true) => format!("死信：{n} 条待处理（{}）", reasons.join("，")),
        (n, false) => format!("Dead letters waiting: {n} ({})", reasons.join(", ")),
    };
    if zh {
        vec![
            format!(
                "订单：已拉取 {}{}",
                digest.orders_stored,
                since(digest.orders_new)
            ),
            format!(
                "凭证：已写入 T+ {}{}，等待写入 {}",
                digest.written_stored,
                since(digest.written_new),
                digest.waiting
            ),
            dead_line,
            books_line(style, &digest.books),
        ]
    } else {
        vec![
            format!(
                "Orders fetched: {}{}",
                digest.orders_stored,
                since(digest.orders_new)
            ),
            format!(
                "Vouchers written to T+: {}{}; waiting: {}",
                digest.written_stored,
                since(digest.written_new),
                digest.waiting
            ),
            dead_line,
            books_line(style, &digest.books),
        ]
    }
}

/// Machine-readable facts for the generic body.
pub fn details(digest: &Digest) -> Value {
    let books = match &digest.books {
        Books::Equal { from, to } => json!({"state": "equal", "from": from, "to": to}),
        Books::Differ {
            from,
            to,
            rows,
            qty,
            amount,
        } => json!({
            "state": "differ", "from": from, "to": to, "differing_rows": rows,
            "qty_difference": qty, "amount_difference": amount,
        }),
        Books::Failed { error } => json!({"state": "failed", "error": error}),
        other => json!({"state": other.as_str()}),
    };
    json!({
        "day": digest.day,
        "orders_stored": digest.orders_stored,
        "orders_new": digest.orders_new,
        "vouchers_written": digest.written_stored,
        "vouchers_written_new": digest.written_new,
        "vouchers_waiting": digest.waiting,
        "dead_letters": digest.dead_total(),
        "dead_letters_by_reason": digest.dead_letters,
        "books": books,
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::alerts::texts::Language;
    use crate::books::record::tests::{date, differing_report, finished_run, t};
    use j2t_stores::StageStatus;

    pub fn digest(books: Books) -> Digest {
        let kind = |s: &str| s.parse::<j2t_stores::DeadLetterKind>().expect("kind");
        let status = PipelineStatus {
            at: t(0),
            orders: StageStatus {
                stored: 1200,
                ..Default::default()
            },
            written: StageStatus {
                stored: 40,
                ..Default::default()
            },
            vouchers: StageStatus {
                backlog: 2,
                in_flight: 1,
                ..Default::default()
            },
            dead_letters: [
                (kind("writer.rejected"), 2),
                (kind("transformer.bad_order"), 0),
            ]
            .into(),
            ..Default::default()
        };
        let previous = DigestRecord {
            day: date("2026-11-30"),
            at: t(-86_400),
            orders_stored: 1000,
            written_stored: 45,
        };
        Digest::new(date("2026-12-01"), &status, Some(&previous), books)
    }

    fn run(report: Result<&j2t_reconcile::Report, String>, day: &str) -> RunRecord {
        finished_run(day, report)
    }

    #[test]
    fn the_books_come_from_the_runs() {
        let today = date("2026-12-01");
        let differ = run(Ok(&differing_report()), "2026-12-01");
        let failed = run(Err("T+: down".into()), "2026-12-01");
        let failed_yesterday = run(Err("T+: down".into()), "2026-11-30");
        assert_eq!(
            Books::from_runs(false, today, Some(&differ), Some(&differ)),
            Books::Off
        );
        assert_eq!(Books::from_runs(true, today, None, None), Books::NotYet);
        assert!(matches!(
            Books::from_runs(true, today, Some(&differ), Some(&differ)),
            Books::Differ { rows: 2, .. }
        ));
        assert_eq!(
            Books::from_runs(true, today, Some(&failed), Some(&differ)),
            Books::Failed {
                error: "T+: down".into()
            }
        );
        // Yesterday's failure is old news: the last comparison tells the books.
        assert!(matches!(
            Books::from_runs(true, today, Some(&failed_yesterday), Some(&differ)),
            Books::Differ { .. }
        ));
    }

    #[test]
    fn the_digest_reads_in_chinese_and_english() {
        let books = Books::Differ {
            from: date("2026-11-24"),
            to: date("2026-11-30"),
            rows: 2,
            qty: 4.0,
            amount: 40.5,
        };
        let digest = digest(books);
        let zh = Style::new(Language::Zh, 480);
        let en = Style::new(Language::En, 480);
        assert_eq!(title(&zh, &digest), "每日摘要 2026-12-01");
        assert_eq!(
            lines(&zh, &digest),
            [
                "订单：已拉取 1200（较上次摘要 +200）",
                // The results stream lost more than arrived: no "+n" rather than a wrong one.
                "凭证：已写入 T+ 40，等待写入 3",
                "死信：2 条待处理（writer.rejected 2）",
                "账目：不符，2 行（数量差 4，金额差 40.50；2026-11-24 至 2026-11-30）",
            ]
        );
        assert_eq!(
            lines(&en, &digest),
            [
                "Orders fetched: 1200 (+200 since the last digest)",
                "Vouchers written to T+: 40; waiting: 3",
                "Dead letters waiting: 2 (writer.rejected 2)",
                "Books: 2 rows differ (|qty| 4, |amount| 40.50; 2026-11-24 to 2026-11-30)",
            ]
        );
        assert_eq!(details(&digest)["books"]["state"], "differ");
        assert_eq!(details(&digest)["orders_new"], 200);
        assert_eq!(details(&digest)["vouchers_written_new"], Value::Null);
    }

    #[test]
    fn the_books_line_for_every_state() {
        let zh = Style::new(Language::Zh, 480);
        let en = Style::new(Language::En, 480);
        let equal = Books::Equal {
            from: date("2026-11-24"),
            to: date("2026-11-30"),
        };
        assert_eq!(
            books_line(&zh, &equal),
            "账目：一致（2026-11-24 至 2026-11-30）"
        );
        assert_eq!(
            books_line(&en, &equal),
            "Books: equal (2026-11-24 to 2026-11-30)"
        );
        assert_eq!(books_line(&en, &Books::NotYet), "Books: not reconciled yet");
        assert!(books_line(&zh, &Books::Off).contains("monitor.reconcile_enabled"));
        let failed = Books::Failed {
            error: "JST: timeout".into(),
        };
        assert_eq!(
            books_line(&zh, &failed),
            "账目：今日对账未能完成：JST: timeout"
        );
        assert!(failed.bad() && !equal.bad());
    }
}
