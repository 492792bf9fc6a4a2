//! JST's rate limits per app_key, on every JST endpoint.

use std::collections::BTreeMap;

use j2t_simulator::JstFaults;
use serde_json::json;

use crate::harness::{Sim, by_code, code, day_biz};

#[tokio::test]
async fn sixth_request_within_one_second_gets_199_and_counts_one_violation() {
    let sim = Sim::start_strict().await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(code(&sim.query(day_biz(json!({}))).await));
    }
    assert_eq!(codes, [0, 0, 0, 0, 0, 199]);
    let stats = sim.stats().await;
    let key = sim.cfg.jst.app_key.clone();
    assert_eq!(stats.jst_rate_violations, BTreeMap::from([(key, 1)]));
    assert_eq!(by_code(&stats, "199"), 1);
    assert_eq!(by_code(&stats, "0"), 5);
}

#[tokio::test]
async fn more_than_per_minute_requests_get_200_on_any_endpoint_whatever_else_is_wrong() {
    let sim = Sim::start_strict().await;
    sim.admin
        .set_jst_faults(&JstFaults {
            per_second: Some(10_000),
            per_minute: Some(5),
            ..Default::default()
        })
        .await
        .expect("faults set");
    for _ in 0..4 {
        assert_eq!(code(&sim.query(day_biz(json!({}))).await), 0);
    }
    // Token calls count toward the same limits.
    let refreshed = sim.refresh(&sim.refresh_token()).await;
    assert_eq!(code(&refreshed), 0, "{refreshed}");
    let token = refreshed["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let limited = sim.query_with(&token, day_biz(json!({}))).await;
    assert_eq!(code(&limited), 200);
    assert_eq!(limited["msg"], "调用频次超过限制");
    // The limit is checked before the signature, and refused requests count too.
    let forged = sim
        .post(
            j2t_jst::OUTBOUND_QUERY_PATH,
            Sim::query_fields(&token, &day_biz(json!({}))),
            Some("wrong secret"),
        )
        .await;
    let forged: serde_json::Value = forged.json().await.expect("JSON");
    assert_eq!(code(&forged), 200);
    let stats = sim.stats().await;
    let key = sim.cfg.jst.app_key.clone();
    assert_eq!(stats.jst_rate_violations, BTreeMap::from([(key, 2)]));
    assert_eq!(by_code(&stats, "200"), 2);
}
