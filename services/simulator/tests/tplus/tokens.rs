//! refreshToken, openToken expiry and TTL.

use j2t_simulator::TplusFaults;

use crate::harness::{Answer, Sim, by_code, demo_dto};

fn result(answer: &Answer, key: &str) -> String {
    answer.body["result"][key].as_str().expect(key).to_string()
}

#[tokio::test]
async fn refresh_replaces_both_tokens_and_the_old_open_token_is_refused_at_once() {
    let sim = Sim::start().await;
    let (old_open, old_refresh) = (sim.open_token(), sim.refresh_token());
    assert!(sim.create(&demo_dto("E-1")).await.is_success());

    for wrong in [
        sim.refresh("not-the-refresh-token").await,
        sim.refresh_raw(&sim.app_secret(), "authorization_code", &old_refresh)
            .await,
    ] {
        assert_eq!((wrong.status, wrong.code()), (200, "40001"));
        assert_eq!(wrong.message(), "refresh_token 无效");
    }
    let stranger = sim
        .refresh_raw("wrong-secret", "refresh_token", &old_refresh)
        .await;
    assert_eq!((stranger.status, stranger.code()), (401, "50000"));

    let first = sim.refresh(&old_refresh).await;
    assert_eq!((first.status, first.code()), (200, "200"), "{}", first.body);
    assert_eq!(first.message(), "success");
    assert_eq!(first.body["result"]["expires_in"], 518_400);
    assert_eq!(first.body["result"]["refresh_expires_in"], 2_592_000);
    let (open, refresh) = (
        result(&first, "access_token"),
        result(&first, "refresh_token"),
    );
    assert_ne!(open, old_open);
    assert_ne!(refresh, old_refresh);

    let stale = sim.create_with(&old_open, &demo_dto("E-2")).await;
    assert_eq!((stale.status, stale.code()), (401, "50000"));
    assert_eq!(stale.message(), "openToken 无效或已过期");
    assert!(sim.create_with(&open, &demo_dto("E-2")).await.is_success());
    assert_eq!(
        sim.refresh(&old_refresh).await.code(),
        "40001",
        "old refresh token replaced"
    );
    let second = sim.refresh(&refresh).await;
    assert_eq!(second.code(), "200");
    assert_eq!(sim.create_with(&open, &demo_dto("E-3")).await.status, 401);

    let stats = sim.stats().await;
    assert_eq!(stats.tplus_token_refreshes, 2);
    assert_eq!(by_code(&stats, "40001"), 3);
    assert_eq!(sim.external_codes().await, ["E-1", "E-2"]);
}

#[tokio::test]
async fn an_expired_token_is_refused_until_a_refresh() {
    let sim = Sim::start().await;
    sim.admin.expire_tplus_token().await.expect("expired");
    let refused = sim.create(&demo_dto("E-1")).await;
    assert_eq!((refused.status, refused.code()), (401, "50000"));
    let refreshed = sim.refresh(&sim.refresh_token()).await;
    let open = result(&refreshed, "access_token");
    assert!(sim.create_with(&open, &demo_dto("E-1")).await.is_success());
}

#[tokio::test]
async fn token_ttl_refuses_tokens_older_than_it() {
    let sim = Sim::start().await;
    // A TTL of zero: every token is already too old.
    sim.set_faults(TplusFaults {
        token_ttl_secs: Some(0),
        ..Default::default()
    })
    .await;
    assert_eq!(sim.create(&demo_dto("E-1")).await.status, 401);
    let refreshed = sim.refresh(&sim.refresh_token()).await;
    let open = result(&refreshed, "access_token");
    assert_eq!(sim.create_with(&open, &demo_dto("E-1")).await.status, 401);
    sim.set_faults(TplusFaults {
        token_ttl_secs: Some(3_600),
        ..Default::default()
    })
    .await;
    assert!(sim.create_with(&open, &demo_dto("E-1")).await.is_success());
}
