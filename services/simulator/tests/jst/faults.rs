//! Fault knobs: injected 502 and 199, drift, and the admin endpoint's validation.

use std::collections::BTreeSet;

use j2t_simulator::{DriftKind, JstFaults, Stats};
use serde_json::{Value, json};

use crate::harness::{DAY_BEGIN, DAY_END, Sim, by_code, code, day_biz, order, relaxed};

#[tokio::test]
async fn http_5xx_probability_one_answers_502_but_only_after_authentication() {
    let sim = Sim::start().await;
    sim.set_faults(JstFaults {
        http_5xx_probability: 1.0,
        ..Default::default()
    })
    .await;
    let fields = Sim::query_fields(&sim.access_token(), &day_biz(json!({})));
    let answer = sim
        .post(j2t_jst::OUTBOUND_QUERY_PATH, fields.clone(), None)
        .await;
    assert_eq!(answer.status(), 502);
    assert!(
        !answer.text().await.expect("body").starts_with('{'),
        "plain text"
    );
    let forged = sim
        .post(j2t_jst::OUTBOUND_QUERY_PATH, fields, Some("wrong"))
        .await;
    assert_eq!(forged.status(), 200);
    assert_eq!(code(&forged.json().await.expect("JSON")), 10);
    assert_eq!(
        code(&sim.query_with("stale", day_biz(json!({}))).await),
        100
    );
    // Token endpoints are not subject to injected 502s.
    assert_eq!(code(&sim.refresh(&sim.refresh_token()).await), 0);
    let stats = sim.stats().await;
    assert_eq!(
        (
            by_code(&stats, "http502"),
            by_code(&stats, "10"),
            by_code(&stats, "100")
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn injected_throttle_is_199_but_not_a_violation() {
    let sim = Sim::start().await;
    sim.set_faults(JstFaults {
        throttle_probability: 1.0,
        // Exercises the latency path; nothing here measures time.
        latency_ms: 5,
        ..Default::default()
    })
    .await;
    let answer = sim.query(day_biz(json!({}))).await;
    assert_eq!(code(&answer), 199);
    assert_eq!(answer["msg"], "调用频次超过限制!请稍后再试");
    let stats = sim.stats().await;
    assert!(stats.jst_rate_violations.is_empty());
    assert_eq!(by_code(&stats, "199"), 1);
}

#[tokio::test]
async fn bad_faults_are_refused_with_400_and_change_nothing() {
    let sim = Sim::start().await;
    let good = relaxed(JstFaults {
        latency_ms: 1,
        token_ttl_secs: Some(60),
        seed: 9,
        ..Default::default()
    });
    sim.admin.set_jst_faults(&good).await.expect("set");
    assert_eq!(sim.admin.jst_faults().await.expect("read"), good);

    let http = reqwest::Client::new();
    let url = format!("{}{}", sim.base, j2t_simulator::FAULTS_PATH);
    for body in [
        "not json",
        r#"{"drift_probability": 1.5}"#,
        r#"{"throttle_probability": -1}"#,
        r#"{"no_such_knob": true}"#,
        r#"{"latency_ms": "slow"}"#,
    ] {
        let answer = http.put(&url).body(body).send().await.expect("sent");
        assert_eq!(answer.status(), 400, "{body}");
        let error: Value = answer.json().await.expect("JSON error");
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{error}"
        );
    }
    let bad = JstFaults {
        http_5xx_probability: 2.0,
        ..Default::default()
    };
    assert!(sim.admin.set_jst_faults(&bad).await.is_err());
    assert_eq!(sim.admin.jst_faults().await.expect("read"), good);
}

/// Ten orders on the test day, then one first page and `continuations` later pages, with
/// drift certain. Returns the stats and the orders afterwards.
async fn drift_run(seed: u64, continuations: usize) -> (Stats, Vec<Value>) {
    let sim = Sim::start().await;
    let orders: Vec<Value> = (1..=10)
        .map(|i| order(i, &format!("{:02}:00:00", i + 8)))
        .collect();
    sim.admin.add_orders(&orders).await.expect("added");
    sim.set_faults(JstFaults {
        drift_probability: 1.0,
        seed,
        ..Default::default()
    })
    .await;
    let first = sim.query(day_biz(json!({"page_size": 5}))).await;
    assert_eq!(code(&first), 0);
    for i in 0..continuations {
        // Later pages and cursors past the start both continue a run.
        let biz = if i % 2 == 0 {
            day_biz(json!({"page_size": 5, "page_index": 2}))
        } else {
            day_biz(json!({"page_size": 5, "start_ts": 1, "is_get_total": false}))
        };
        assert_eq!(code(&sim.query(biz).await), 0);
    }
    (sim.stats().await, sim.admin.orders().await.expect("orders"))
}

#[tokio::test]
async fn drift_modifies_and_inserts_while_paging_and_is_recorded() {
    let (stats, orders) = drift_run(11, 16).await;
    // Every request drifts at probability 1: the first page and 16 more.
    assert_eq!(stats.drift_events.len(), 17);
    let kinds: BTreeSet<_> = stats.drift_events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([DriftKind::Modify, DriftKind::Insert])
    );
    let find = |io_id: i64| {
        orders
            .iter()
            .find(|o| o["io_id"] == io_id)
            .expect("order exists")
    };
    for event in &stats.drift_events {
        let o = find(event.io_id);
        let modified = o["modified"].as_str().expect("modified");
        assert!(
            !(DAY_BEGIN..=DAY_END).contains(&modified),
            "now, out of the test day"
        );
        match event.kind {
            DriftKind::Modify => {
                assert!(event.io_id <= 10);
                assert!(
                    o["remark"]
                        .as_str()
                        .is_some_and(|r| r.ends_with(" [modified]"))
                );
            }
            DriftKind::Insert => {
                assert!(event.io_id > 10);
                assert_eq!(o["so_id"], format!("DRIFT-{}", event.io_id));
                assert_eq!(
                    (&o["status"], &o["io_date"]),
                    (&json!("Confirmed"), &o["modified"])
                );
            }
        }
    }
    assert_eq!(stats.orders, orders.len());
    // Same seed, same requests: same drift.
    let (again, _) = drift_run(11, 16).await;
    assert_eq!(again.drift_events, stats.drift_events);
}
