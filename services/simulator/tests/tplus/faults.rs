//! Fault knobs: exhausted quota, injected 503 and 409, timeout after commit, and the admin
//! endpoint's validation.

use std::time::Duration;

use j2t_simulator::TplusFaults;
use serde_json::{Value, json};

use crate::harness::{Sim, by_code, demo_dto, eventually};

#[tokio::test]
async fn an_exhausted_quota_is_401_50112_after_authentication_and_refresh_still_works() {
    let sim = Sim::start().await;
    sim.set_faults(TplusFaults {
        quota_exhausted: true,
        http_5xx_probability: 1.0,
        ..Default::default()
    })
    .await;
    let answer = sim.create(&demo_dto("E-1")).await;
    assert_eq!((answer.status, answer.code()), (401, "50112"));
    assert_eq!(answer.message(), "调用次数已用完");
    assert_eq!(
        sim.create_with("stale", &demo_dto("E-1")).await.code(),
        "50000"
    );
    assert_eq!(sim.refresh(&sim.refresh_token()).await.code(), "200");
    assert!(sim.external_codes().await.is_empty());
    let stats = sim.stats().await;
    assert_eq!(
        (
            by_code(&stats, "http401_50112"),
            by_code(&stats, "http401_50000"),
            by_code(&stats, "200"),
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn injected_503_and_409_store_nothing_and_only_hit_authenticated_calls() {
    let sim = Sim::start().await;
    sim.set_faults(TplusFaults {
        http_5xx_probability: 1.0,
        // Exercises the latency path; nothing here measures time.
        latency_ms: 5,
        ..Default::default()
    })
    .await;
    let unavailable = sim.create(&demo_dto("E-1")).await;
    assert_eq!(unavailable.status, 503);
    assert!(
        unavailable.body.is_string(),
        "plain text: {}",
        unavailable.body
    );
    assert_eq!(sim.create_with("stale", &demo_dto("E-1")).await.status, 401);

    sim.set_faults(TplusFaults {
        throttle_409_probability: 1.0,
        ..Default::default()
    })
    .await;
    let throttled = sim.create(&demo_dto("E-1")).await;
    assert_eq!(throttled.status, 409);
    assert_eq!(throttled.body, json!({"error": "请求过于频繁，请稍后再试"}));
    // Injected faults come before validation: even a bad dto gets the 409.
    assert_eq!(sim.create(&json!({})).await.status, 409);

    assert!(sim.external_codes().await.is_empty());
    let stats = sim.stats().await;
    assert_eq!(
        (
            by_code(&stats, "http503"),
            by_code(&stats, "http409"),
            by_code(&stats, "http401_50000"),
        ),
        (1, 2, 1)
    );

    sim.set_faults(TplusFaults::default()).await;
    assert!(sim.create(&demo_dto("E-1")).await.is_success());
}

#[tokio::test]
async fn timeout_after_commit_stores_the_voucher_though_the_client_timed_out() {
    let sim = Sim::start().await;
    sim.set_faults(TplusFaults {
        timeout_after_commit_probability: 1.0,
        timeout_after_commit_ms: 1_500,
        ..Default::default()
    })
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let sent = sim
        .create_request(
            &impatient,
            &sim.open_token(),
            &json!({"dto": demo_dto("E-1")}),
        )
        .send()
        .await;
    let error = sent.expect_err("the client gives up before the answer");
    assert!(error.is_timeout(), "{error}");

    eventually("the voucher is stored", async || {
        sim.external_codes().await == ["E-1"]
    })
    .await;
    // The retry after the ambiguous timeout meets the duplicate check, at once.
    let retry = sim.create(&demo_dto("E-1")).await;
    assert_eq!((retry.status, retry.code()), (400, "999"));
    assert_eq!(retry.message(), "外部单据号[E-1]已存在");
    let stats = sim.stats().await;
    assert_eq!((stats.tplus_committed_late, stats.vouchers), (1, 1));
}

#[tokio::test]
async fn timeout_after_commit_answers_a_patient_client_with_200_late() {
    let sim = Sim::start().await;
    sim.set_faults(TplusFaults {
        timeout_after_commit_probability: 1.0,
        timeout_after_commit_ms: 50,
        ..Default::default()
    })
    .await;
    assert!(sim.create(&demo_dto("E-1")).await.is_success());
    // A refused call is not committed, late or not.
    assert_eq!(sim.create(&demo_dto("E-1")).await.status, 400);
    let stats = sim.stats().await;
    assert_eq!((stats.tplus_committed_late, by_code(&stats, "200")), (1, 1));
}

#[tokio::test]
async fn bad_faults_are_refused_with_400_and_change_nothing() {
    let sim = Sim::start().await;
    let good = TplusFaults {
        latency_ms: 1,
        token_ttl_secs: Some(60),
        timeout_after_commit_ms: 10,
        seed: 9,
        ..Default::default()
    };
    sim.admin.set_tplus_faults(&good).await.expect("set");
    assert_eq!(sim.admin.tplus_faults().await.expect("read"), good);

    let http = reqwest::Client::new();
    let url = format!("{}{}", sim.base, j2t_simulator::TPLUS_FAULTS_PATH);
    for body in [
        "not json",
        r#"{"http_5xx_probability": 1.5}"#,
        r#"{"throttle_409_probability": -1}"#,
        r#"{"timeout_after_commit_probability": 2}"#,
        r#"{"no_such_knob": true}"#,
        r#"{"latency_ms": "slow"}"#,
        r#"{"quota_exhausted": "yes"}"#,
    ] {
        let answer = http.put(&url).body(body).send().await.expect("sent");
        assert_eq!(answer.status(), 400, "{body}");
        let error: Value = answer.json().await.expect("JSON error");
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{error}"
        );
    }
    let bad = TplusFaults {
        throttle_409_probability: 2.0,
        ..Default::default()
    };
    assert!(sim.admin.set_tplus_faults(&bad).await.is_err());
    assert_eq!(sim.admin.tplus_faults().await.expect("read"), good);
}
