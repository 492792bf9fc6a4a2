//! getInitToken, refreshToken, token expiry.

use j2t_simulator::{INIT_TOKEN_PATH, JstFaults, REFRESH_TOKEN_PATH};
use serde_json::{Value, json};

use crate::harness::{Sim, code, day_biz, fields};

fn token(answer: &Value, key: &str) -> String {
    answer["data"][key].as_str().expect(key).to_string()
}

#[tokio::test]
async fn refresh_replaces_both_tokens_and_the_old_access_token_is_refused_at_once() {
    let sim = Sim::start().await;
    let (old_access, old_refresh) = (sim.access_token(), sim.refresh_token());
    assert_eq!(code(&sim.query(day_biz(json!({}))).await), 0);

    let wrong = sim.refresh("not-the-refresh-token").await;
    assert_eq!(code(&wrong), 100);
    assert_eq!(
        wrong["msg"],
        "验证失败！无效的access_token或access_token已过期"
    );

    let first = sim.refresh(&old_refresh).await;
    assert_eq!(code(&first), 0, "{first}");
    assert_eq!(first["msg"], "执行成功");
    assert_eq!(first["data"]["expires_in"], 2_592_000);
    assert_eq!(first["data"]["scope"], "all");
    let (access, refresh) = (
        token(&first, "access_token"),
        token(&first, "refresh_token"),
    );
    assert_ne!(access, old_access);
    assert_ne!(refresh, old_refresh);

    assert_eq!(
        code(&sim.query_with(&old_access, day_biz(json!({}))).await),
        100
    );
    assert_eq!(code(&sim.query_with(&access, day_biz(json!({}))).await), 0);
    assert_eq!(
        code(&sim.refresh(&old_refresh).await),
        100,
        "old refresh token replaced"
    );
    let second = sim.refresh(&refresh).await;
    assert_eq!(code(&second), 0);
    assert_eq!(
        code(&sim.query_with(&access, day_biz(json!({}))).await),
        100
    );
    assert_eq!(sim.stats().await.jst_token_refreshes, 2);
}

#[tokio::test]
async fn init_token_issues_a_pair_for_a_six_character_code() {
    let sim = Sim::start().await;
    assert_eq!(code(&sim.init_token("12345").await), 140);
    let issued = sim.init_token("123456").await;
    assert_eq!(code(&issued), 0, "{issued}");
    assert_eq!(code(&sim.query(day_biz(json!({}))).await), 100);
    let access = token(&issued, "access_token");
    assert_eq!(code(&sim.query_with(&access, day_biz(json!({}))).await), 0);
    let refreshed = sim.refresh(&token(&issued, "refresh_token")).await;
    assert_eq!(code(&refreshed), 0);
}

#[tokio::test]
async fn token_calls_check_signature_and_timestamp() {
    let sim = Sim::start().await;
    let refresh = |timestamp: &str| {
        let mut f = fields(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "whatever"),
            ("scope", "all"),
        ]);
        f.push(("timestamp".into(), timestamp.into()));
        f
    };
    let now = chrono::Utc::now().timestamp();
    let forged = sim
        .post(REFRESH_TOKEN_PATH, refresh(&now.to_string()), Some("wrong"))
        .await;
    let forged: Value = forged.json().await.expect("JSON");
    assert_eq!(code(&forged), 10);
    assert_eq!(forged["msg"], "验证失败！无效签名");
    let stale = sim
        .call(REFRESH_TOKEN_PATH, refresh(&(now - 3_600).to_string()))
        .await;
    assert_eq!(code(&stale), 140);
    let stale_init = sim
        .call(
            INIT_TOKEN_PATH,
            fields(&[
                ("grant_type", "authorization_code"),
                ("code", "123456"),
                ("timestamp", "100"),
            ]),
        )
        .await;
    assert_eq!(code(&stale_init), 140);
    assert_eq!(sim.stats().await.jst_token_refreshes, 0);
}

#[tokio::test]
async fn expired_token_is_refused_until_a_refresh() {
    let sim = Sim::start().await;
    sim.admin.expire_jst_token().await.expect("expired");
    let answer = sim.query(day_biz(json!({}))).await;
    assert_eq!(code(&answer), 100);
    let refreshed = sim.refresh(&sim.refresh_token()).await;
    let access = token(&refreshed, "access_token");
    assert_eq!(code(&sim.query_with(&access, day_biz(json!({}))).await), 0);
}

#[tokio::test]
async fn token_ttl_refuses_tokens_older_than_it() {
    let sim = Sim::start().await;
    // A TTL of zero: every token is already too old.
    sim.set_faults(JstFaults {
        token_ttl_secs: Some(0),
        ..Default::default()
    })
    .await;
    assert_eq!(code(&sim.query(day_biz(json!({}))).await), 100);
    let refreshed = sim.refresh(&sim.refresh_token()).await;
    let access = token(&refreshed, "access_token");
    assert_eq!(
        code(&sim.query_with(&access, day_biz(json!({}))).await),
        100
    );
    sim.set_faults(JstFaults {
        token_ttl_secs: Some(3_600),
        ..Default::default()
    })
    .await;
    assert_eq!(code(&sim.query_with(&access, day_biz(json!({}))).await), 0);
}
