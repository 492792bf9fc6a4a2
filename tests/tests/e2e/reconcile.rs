//! `jst2tplus reconcile` against the simulator's JST and T+ (read back with FindVoucherList
//! and GetVoucherDTO), asserted on its `--format json` report: equal books after a normal
//! sync; a voucher deleted in T+ named with its io_ids; an order added to a day the fetcher
//! had already closed named as never fetched.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use jst2tplus::reconcile;
use serde_json::Value;

use j2t_e2e::harness::{Stack, eventually};

use crate::support::{cli_output, seed};

/// Runs `jst2tplus reconcile --format json` over the days: (exit code, report).
fn run(stack: &Stack, from: NaiveDate, to: NaiveDate) -> (i32, Value) {
    let (from, to) = (from.to_string(), to.to_string());
    let output = cli_output(
        stack,
        &[],
        &[
            "reconcile",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
        ],
    );
    let code = output.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "reconcile (exit {code}) printed no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, report)
}

/// Σ qty and Σ sale_amount of the Confirmed orders.
fn source_totals(orders: &[Value]) -> (f64, f64) {
    let items = orders
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .flat_map(|o| o["items"].as_array().cloned().unwrap_or_default());
    items.fold((0.0, 0.0), |(q, a), item| {
        (
            q + item["qty"].as_f64().unwrap_or(0.0),
            a + item["sale_amount"].as_f64().unwrap_or(0.0),
        )
    })
}

/// (io_id, whereabouts kind, voucher) of every explanation in the report.
fn explained(report: &Value) -> Vec<(i64, String, Option<String>)> {
    report["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["explanations"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| {
            Some((
                e["io_id"].as_i64()?,
                e["whereabouts"]["kind"].as_str()?.to_string(),
                e["voucher"].as_str().map(str::to_string),
            ))
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[tokio::test(flavor = "multi_thread")]
async fn reconcile_proves_equal_books_and_explains_a_deleted_voucher_and_an_unfetched_order() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 120, 3, 12, &[]).await;
    let source = stack.admin.orders().await.expect("orders");
    let days: BTreeSet<NaiveDate> = expected
        .keys()
        .filter_map(|(d, _)| d.parse().ok())
        .collect();
    let (first, last) = (*days.first().expect("days"), *days.last().expect("days"));
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", start),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
            // The re-check of closed windows would fetch the order added to a closed day
            // below; this test proves reconcile names what no re-check has caught.
            ("J2T__FETCHER__RECHECK_DAYS", "0".into()),
        ],
    );
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);
    let admin = &stack.admin;
    eventually(Duration::from_secs(120), "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (rows.len() == days.len() && rows.iter().all(|r| r.matches)).then_some(())
    })
    .await;

    // 1. A normal sync: equal books, totals equal to the seeded source. The fetcher is still
    // running (polling), so this also runs beside it on the same rate schedule.
    let (code, report) = run(&stack, first, last);
    assert_eq!(code, 0, "books should match: {report:#}");
    assert_eq!(report["version"], 1);
    assert_eq!(report["differences"], Value::Array(vec![]));
    let (qty, amount) = source_totals(&source);
    let totals = &report["totals"];
    for (field, want) in [
        ("jst_qty", qty),
        ("tplus_qty", qty),
        ("jst_amount", amount),
        ("tplus_amount", amount),
    ] {
        let got = totals[field].as_f64().expect("number");
        assert!(close(got, want), "{field}: {got} != seeded {want}");
    }
    let confirmed = source.iter().filter(|o| o["status"] == "Confirmed").count();
    assert_eq!(totals["jst_orders"], confirmed as u64);
    let dtos = admin.voucher_dtos().await.expect("vouchers");
    assert_eq!(totals["tplus_vouchers"], dtos.len() as u64);
    assert!(report["jst_requests"].as_u64() > Some(0));
    assert!(report["tplus_requests"].as_u64() > Some(0));
    let stats = admin.stats().await.expect("stats");
    assert!(
        stats.jst_rate_violations.values().all(|v| *v == 0),
        "rate limits broken: {:?}",
        stats.jst_rate_violations
    );

    // 2. One voucher deleted in T+: exit 1, the voucher named, with exactly its io_ids (one
    // window per day, one voucher per day and warehouse: its orders are that day's and
    // warehouse's Confirmed orders).
    let victim = &dtos[0];
    let code_of = victim["ExternalCode"].as_str().expect("code").to_string();
    let date = victim["VoucherDate"].as_str().expect("date").to_string();
    let warehouse = victim["Warehouse"]["Code"]
        .as_str()
        .expect("warehouse")
        .to_string();
    let held: BTreeSet<i64> = source
        .iter()
        .filter(|o| {
            o["status"] == "Confirmed"
                && o["io_date"].as_str().is_some_and(|d| d.starts_with(&date))
                && o["wms_co_id"].to_string().trim_matches('"') == warehouse
        })
        .filter_map(|o| o["io_id"].as_i64())
        .collect();
    assert!(!held.is_empty(), "voucher {code_of} holds orders");
    assert!(
        admin.delete_tplus_voucher(&code_of).await.expect("delete"),
        "the simulator deleted {code_of}"
    );
    let (code, report) = run(&stack, first, last);
    assert_eq!(code, 1, "books should differ: {report:#}");
    let named: BTreeSet<i64> = explained(&report)
        .into_iter()
        .filter(|(_, kind, voucher)| {
            kind == "missing_in_tplus" && voucher.as_deref() == Some(&code_of)
        })
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(named, held, "the deleted voucher's io_ids");
    let totals = &report["totals"];
    assert!(close(totals["jst_qty"].as_f64().expect("qty"), qty));
    assert!(totals["tplus_qty"].as_f64().expect("qty") < qty);

    // 3. An order added to the first day, which the fetcher closed long ago: never fetched.
    let mut late = source
        .iter()
        .find(|o| o["status"] == "Confirmed")
        .expect("a Confirmed order")
        .clone();
    let new_id = source
        .iter()
        .filter_map(|o| o["io_id"].as_i64())
        .max()
        .expect("io_ids")
        + 1000;
    late["io_id"] = new_id.into();
    late["io_date"] = format!("{first} 12:00:00").into();
    if let Some(so_id) = late["so_id"].as_str() {
        late["so_id"] = format!("{so_id}-late").into();
    }
    admin.add_orders(&[late]).await.expect("late order");
    let (code, report) = run(&stack, first, last);
    assert_eq!(code, 1, "books should differ: {report:#}");
    let about_late: Vec<(i64, String, Option<String>)> = explained(&report)
        .into_iter()
        .filter(|(id, _, _)| *id == new_id)
        .collect();
    assert!(
        !about_late.is_empty(),
        "the late order is named: {report:#}"
    );
    assert!(
        about_late
            .iter()
            .all(|(_, kind, _)| kind == "never_fetched"),
        "{about_late:?}"
    );

    // The same as a table, for people: the differences and their explanations.
    let (from, to) = (first.to_string(), last.to_string());
    let output = cli_output(&stack, &[], &["reconcile", "--from", &from, "--to", &to]);
    let table = String::from_utf8_lossy(&output.stdout);
    eprintln!("{table}");
    assert_eq!(output.status.code(), Some(1));
    assert!(table.contains("The books differ"), "{table}");
    assert!(
        table.contains(&format!("never fetched: order {new_id}")),
        "{table}"
    );
    assert!(table.contains(&code_of), "{table}");
}
