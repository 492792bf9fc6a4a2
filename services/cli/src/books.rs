//! `jst2tplus reconcile --from DATE --to DATE`: do the books match? JST re-queried against
//! the vouchers read back from T+ (`j2t_reconcile`), printed as a table, JSON or CSV.
//! Exit 0 when equal, 1 when not, 2 when it could not run (the reason on stderr).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use comfy_table::{Cell, CellAlignment, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use j2t_config::Config;
use j2t_reconcile::{Progress, Report, Request, Whereabouts};

#[derive(Args, Debug)]
pub struct ReconcileArgs {
    /// First voucher date, yyyy-MM-dd (inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last voucher date, yyyy-MM-dd (inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: NaiveDate,
    /// One sync task (`fetcher.tasks.NAME`, or `default`); default: every task.
    #[arg(long, value_name = "NAME")]
    pub task: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Table: only the rows that differ (totals and explanations are always shown).
    #[arg(long)]
    pub differences_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    /// The report as JSON (`version` says its shape; fields are only ever added).
    Json,
    /// One line per (date, warehouse, SKU), explanations in the last column.
    Csv,
}

pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| format!("`{text}` is not a date yyyy-MM-dd ({e})"))
}

/// Runs the command; returns the exit code.
pub fn main(config: anyhow::Result<Config>, args: ReconcileArgs) -> i32 {
    if args.from > args.to {
        eprintln!(
            "error: --from ({}) is after --to ({}); give the earlier date to --from",
            args.from, args.to
        );
        return 2;
    }
    let run = || -> anyhow::Result<Report> {
        let cfg = config?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run(cfg, &args))
    };
    match run() {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let written = match args.format {
                Format::Json => serde_json::to_string_pretty(&report)
                    .map_err(std::io::Error::other)
                    .and_then(|text| writeln!(out, "{text}")),
                Format::Csv => out.write_all(csv(&report).as_bytes()),
                Format::Table => out.write_all(table(&report, args.differences_only).as_bytes()),
            };
            if let Err(e) = written.and_then(|()| out.flush()) {
                eprintln!("error: writing the report: {e}");
                return 2;
            }
            if report.equal() { 0 } else { 1 }
        }
        Err(error) => {
            eprintln!("error: reconcile could not run: {error:#}");
            2
        }
    }
}

async fn run(cfg: Config, args: &ReconcileArgs) -> anyhow::Result<Report> {
    let _tracing = j2t_runtime::init_logging("jst2tplus-reconcile", "warn");
    j2t_stores::refuse_mixed_setup(&cfg).await?;
    let topology = j2t_topology::attach(&cfg)
        .await
        .with_context(|| format!("opening the pipeline's NATS topology at {}", cfg.nats.url))?;
    let request = Request {
        from: args.from,
        to: args.to,
        task: args.task.clone(),
    };
    let progress = Bar::new();
    let report = j2t_reconcile::reconcile(&cfg, &topology, &request, &progress).await;
    progress.finish();
    Ok(report?)
}

/// A bar on stderr when it is a terminal; otherwise one line per phase and per tenth of it.
struct Bar {
    bar: Option<ProgressBar>,
    state: Mutex<(String, Option<u64>, u64)>,
}

impl Bar {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            state: Mutex::new((String::new(), None, 0)),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str, total: Option<u64>) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(name.to_string());
            bar.set_length(total.unwrap_or(0));
            bar.set_position(0);
        } else {
            eprintln!(
                "reconcile: {name}{}",
                total.map(|t| format!(" (0/{t})")).unwrap_or_default()
            );
        }
        if let Ok(mut state) = self.state.lock() {
            *state = (name.to_string(), total, 0);
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let before = state.2;
        state.2 += n;
        if let Some(total) = state.1.filter(|t| *t >= 10) {
            let tenth = total / 10;
            if before / tenth != state.2 / tenth || state.2 == total {
                eprintln!("reconcile: {} {}/{total}", state.0, state.2);
            }
        }
    }
}

fn num(value: f64) -> String {
    // Sums of decimals: at most 6 places, trailing zeros dropped.
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// The table: one row per key, the totals, then the differences with their explanations.
pub fn table(report: &Report, differences_only: bool) -> String {
    let task = report.task.as_deref().unwrap_or("every task");
    let mut text = format!("Reconcile {} .. {} ({task})\n", report.from, report.to);
    let mut rows = Table::new();
    rows.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_header(vec![
            "date",
            "warehouse",
            "SKU",
            "JST qty",
            "JST amount",
            "T+ qty",
            "T+ amount",
            "Δ qty",
            "Δ amount",
        ]);
    let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
    for row in report
        .rows
        .iter()
        .filter(|r| !differences_only || r.differs())
    {
        let mark = if row.differs() { " ≠" } else { "" };
        rows.add_row(vec![
            Cell::new(row.date),
            Cell::new(&row.warehouse),
            Cell::new(format!("{}{mark}", row.sku)),
            right(num(row.jst_qty)),
            right(num(row.jst_amount)),
            right(num(row.tplus_qty)),
            right(num(row.tplus_amount)),
            right(num(row.qty_diff())),
            right(num(row.amount_diff())),
        ]);
    }
    if !rows.is_empty() {
        text.push_str(&format!("{rows}\n"));
    }
    let t = &report.totals;
    text.push_str(&format!(
        "Totals: JST {} orders, qty {}, amount {} | T+ {} vouchers, qty {}, amount {}\n",
        t.jst_orders,
        num(t.jst_qty),
        num(t.jst_amount),
        t.tplus_vouchers,
        num(t.tplus_qty),
        num(t.tplus_amount)
    ));
    text.push_str(&format!(
        "Requests: JST {}, T+ {}; {:.1} s\n",
        report.jst_requests,
        report.tplus_requests,
        report.elapsed_ms as f64 / 1000.0
    ));
    if report.equal() {
        text.push_str(&format!(
            "The books match: {} rows equal.\n",
            report.rows.len()
        ));
        return text;
    }
    text.push_str(&format!(
        "The books differ: {} of {} rows (worst first):\n",
        report.differences.len(),
        report.rows.len()
    ));
    for d in &report.differences {
        text.push_str(&format!(
            "\n{} {} {}: T+ − JST = qty {}, amount {}\n",
            d.row.date,
            d.row.warehouse,
            d.row.sku,
            num(d.row.qty_diff()),
            num(d.row.amount_diff())
        ));
        if d.explanations.is_empty() {
            text.push_str("  (no explanation found in the pipeline's lineage)\n");
        }
        for e in &d.explanations {
            text.push_str(&format!("  - {}: {}\n", kind(&e.whereabouts), e.detail));
        }
    }
    text
}

fn kind(w: &Whereabouts) -> String {
    match w {
        Whereabouts::NeverFetched => "never fetched".into(),
        Whereabouts::InFlight => "in flight".into(),
        Whereabouts::DeadLettered { id, reason } => format!("dead letter {id} ({reason})"),
        Whereabouts::MissingInTplus => "missing in T+".into(),
        Whereabouts::ChangedAfterWrite => "changed after write".into(),
        Whereabouts::NotInJst => "not in JST".into(),
    }
}

/// RFC 4180: quoted when needed, quotes doubled.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One line per key; a differing key's explanations joined in the last column.
pub fn csv(report: &Report) -> String {
    let mut text = String::from(
        "date,warehouse,sku,jst_qty,jst_amount,tplus_qty,tplus_amount,qty_diff,amount_diff,explanations\n",
    );
    for row in &report.rows {
        let explained = report
            .differences
            .iter()
            .find(|d| {
                d.row.date == row.date && d.row.warehouse == row.warehouse && d.row.sku == row.sku
            })
            .map(|d| {
                d.explanations
                    .iter()
                    .map(|e| format!("{}: {}", kind(&e.whereabouts), e.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let cells = [
            row.date.to_string(),
            row.warehouse.clone(),
            row.sku.clone(),
            num(row.jst_qty),
            num(row.jst_amount),
            num(row.tplus_qty),
            num(row.tplus_amount),
            num(row.qty_diff()),
            num(row.amount_diff()),
            explained,
        ];
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        text.push_str(&line.join(","));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use j2t_reconcile::{Difference, Explanation, Row, Totals};

    use super::*;

    fn report(differs: bool) -> Report {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        let row = Row {
            date: day,
            warehouse: "1001".into(),
            sku: "A,1".into(),
            jst_qty: 3.0,
            jst_amount: 4.5,
            tplus_qty: if differs { 2.0 } else { 3.0 },
            tplus_amount: if differs { 3.0 } else { 4.5 },
        };
        let differences = if differs {
            vec![Difference {
                row: row.clone(),
                explanations: vec![Explanation {
                    io_id: Some(7),
                    voucher: None,
                    whereabouts: Whereabouts::NeverFetched,
                    detail: "order 7 is in JST but the pipeline never fetched it".into(),
                }],
            }]
        } else {
            vec![]
        };
        Report {
            version: j2t_reconcile::REPORT_VERSION,
            from: day,
            to: day,
            task: None,
            rows: vec![row],
            totals: Totals::default(),
            differences,
            jst_requests: 1,
            tplus_requests: 2,
            started_at: chrono::Utc::now(),
            elapsed_ms: 5,
        }
    }

    #[test]
    fn the_table_says_whether_the_books_match() {
        let equal = table(&report(false), false);
        assert!(equal.contains("The books match: 1 rows equal."), "{equal}");
        let differ = table(&report(true), false);
        assert!(differ.contains("The books differ: 1 of 1 rows"), "{differ}");
        assert!(differ.contains("never fetched: order 7"), "{differ}");
        assert!(differ.contains("-1.5"), "{differ}");
    }

    #[test]
    fn csv_quotes_and_explains() {
        let text = csv(&report(true));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("2026-11-25,1001,\"A,1\",3,4.5,2,3,-1,-1.5,never fetched"));
    }

    #[test]
    fn numbers_and_dates() {
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(12.0), "12");
        assert!(parse_date("2026-11-31").is_err());
        assert!(parse_date("2026-11-30").is_ok());
    }
}
