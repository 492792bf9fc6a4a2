//! otherDispatch/Create: success, validation, duplicate ExternalCode, header auth.

use serde_json::{Value, json};

use crate::harness::{Sim, by_code, demo_dto};

#[tokio::test]
async fn a_voucher_is_stored_once_and_a_resubmission_is_a_duplicate() {
    let sim = Sim::start().await;
    let first = sim.create(&demo_dto("E-1")).await;
    assert!(first.is_success(), "{} {}", first.status, first.body);
    let again = sim.create(&demo_dto("E-1")).await;
    assert_eq!((again.status, again.code()), (400, "999"));
    assert_eq!(again.message(), "外部单据号[E-1]已存在");
    assert_eq!(sim.external_codes().await, ["E-1"]);
    let stats = sim.stats().await;
    assert_eq!(
        (by_code(&stats, "200"), by_code(&stats, "http400_999")),
        (1, 1)
    );
    assert_eq!((stats.vouchers, stats.tplus_requests), (1, 2));
}

#[tokio::test]
async fn a_bad_body_or_dto_is_a_999_and_stores_nothing() {
    let sim = Sim::start().await;
    let http = reqwest::Client::new();
    let not_object = sim
        .create_request(&http, &sim.open_token(), &json!([1]))
        .send()
        .await
        .expect("sent");
    assert_eq!(not_object.status(), 400);
    let body: Value = not_object.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"code": "999", "message": "请求体不是 JSON 对象"})
    );

    let mut zero = demo_dto("E-2");
    zero["RDRecordDetails"][1]["BaseQuantity"] = json!(0);
    let answer = sim.create(&zero).await;
    assert_eq!((answer.status, answer.code()), (400, "999"));
    assert_eq!(answer.message(), "第2行数量必须大于0");
    assert!(sim.external_codes().await.is_empty());
}

#[tokio::test]
async fn wrong_app_credentials_or_token_are_401_50000_before_anything_else() {
    let sim = Sim::start().await;
    let stranger = sim
        .create_with("not-the-token", &json!("not even a dto"))
        .await;
    assert_eq!((stranger.status, stranger.code()), (401, "50000"));
    assert_eq!(stranger.message(), "openToken 无效或已过期");
    let http = reqwest::Client::new();
    // Built by hand: `header` on a prepared request would add a second appSecret.
    let wrong_secret = http
        .post(format!(
            "{}{}",
            sim.base,
            j2t_tplus::OTHER_DISPATCH_CREATE_PATH
        ))
        .header("appKey", &sim.cfg.tplus.app_key)
        .header("appSecret", "wrong")
        .header("openToken", sim.open_token())
        .json(&json!({"dto": demo_dto("E-3")}))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_secret.status(), 401);
    let body: Value = wrong_secret.json().await.expect("JSON");
    assert_eq!(body["code"], "50000");
    assert!(sim.external_codes().await.is_empty());
    assert_eq!(by_code(&sim.stats().await, "http401_50000"), 2);
}
