//! The fetcher across process deaths: SIGKILL at random points, two replicas with one
//! active, and a refreshed JST token that must outlive the process that refreshed it.

use std::time::Duration;

use j2t_testkit::{Service, seeded_rng};
use j2t_topology::names;
use serde_json::json;

use crate::fetcher::{Scenario, UTC_OFFSET, assert_all_published_once};
use j2t_e2e::harness::{Stack, admin_port, eventually, published_io_ids};
use rand::RngExt;

/// The pid of the fetcher holding the app's lease (holder ids start with the pid).
async fn lease_holder(nats_url: &str) -> Option<u32> {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.ok()?);
    let kv = js.get_key_value(names::LEASES_BUCKET).await.ok()?;
    let holder = kv
        .get(names::fetcher_lease_key("demo-jst-app-key"))
        .await
        .ok()??;
    String::from_utf8_lossy(&holder)
        .split('-')
        .next()?
        .parse()
        .ok()
}

fn short_lease(scenario: &mut Scenario) {
    scenario
        .env
        .push(("J2T__FETCHER__LEASE_TTL_SECS", "3".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_random_points_and_restarted_misses_nothing() {
    let stack = Stack::start().await;
    let mut scenario = Scenario::new(400, 4);
    short_lease(&mut scenario);
    let env = scenario.prepare(&stack).await;
    // Kill points from `J2T_TEST_SEED` when set (printed either way, to replay a failure).
    let mut rng = seeded_rng("killed_at_random_points_and_restarted_misses_nothing");
    for round in 0..3u32 {
        let mut fetcher = stack.spawn("jst2tplus-fetcher", &env);
        // A different point in the sync each round: 1.5 s to 6 s after start.
        let after: u64 = rng.random_range(1_500..6_000);
        tokio::time::sleep(Duration::from_millis(after)).await;
        fetcher.kill();
        let published = published_io_ids(&stack.nats_url()).await.len();
        println!("round {round}: killed after {after} ms, {published} orders published");
    }
    let _survivor = stack.spawn("jst2tplus-fetcher", &env);
    assert_all_published_once(&stack, &scenario).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_fetchers_one_active_and_the_standby_takes_over() {
    let stack = Stack::start().await;
    let mut scenario = Scenario::new(400, 4);
    short_lease(&mut scenario);
    let env = scenario.prepare(&stack).await;
    let mut fetchers: Vec<(Service, u16)> = Vec::new();
    for _ in 0..2 {
        let mut fetcher = stack.spawn("jst2tplus-fetcher", &env);
        let port = admin_port(&mut fetcher).await;
        fetchers.push((fetcher, port));
    }
    let nats = stack.nats_url();
    let active = eventually(Duration::from_secs(30), "a lease holder", || {
        lease_holder(&nats)
    })
    .await;
    let index = fetchers
        .iter()
        .position(|(f, _)| f.id() == active)
        .expect("the holder is one of ours");
    eventually(Duration::from_secs(60), "some orders published", || async {
        (published_io_ids(&nats).await.len() >= 40).then_some(())
    })
    .await;

    // The standby has not called JST at all.
    let standby_port = fetchers[1 - index].1;
    let metrics = reqwest::get(format!("http://127.0.0.1:{standby_port}/metrics"))
        .await
        .expect("standby metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        !metrics.contains("j2t_jst_requests_total"),
        "the standby polled JST:\n{metrics}"
    );

    fetchers[index].0.kill();
    let standby = fetchers[1 - index].0.id();
    eventually(
        Duration::from_secs(30),
        "the standby to take over",
        || async { (lease_holder(&nats).await == Some(standby)).then_some(()) },
    )
    .await;
    assert_all_published_once(&stack, &scenario).await;
}

/// The token expires mid-run: the fetcher refreshes it once and carries on; a restarted
/// fetcher uses the refreshed token from NATS KV (the configured pair is dead by then).
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refreshed_once_and_survives_a_restart() {
    let stack = Stack::start().await;
    let scenario = Scenario::new(200, 3);
    let env = scenario.prepare(&stack).await;
    let nats = stack.nats_url();
    let mut fetcher = stack.spawn("jst2tplus-fetcher", &env);
    eventually(Duration::from_secs(60), "some orders published", || async {
        (published_io_ids(&nats).await.len() >= 20).then_some(())
    })
    .await;
    stack.admin.expire_jst_token().await.expect("expire");
    let stats = assert_all_published_once(&stack, &scenario).await;
    assert_eq!(stats.jst_token_refreshes, 1, "{stats:?}");
    fetcher.kill();

    // A new order shipped now, for the restarted fetcher to find.
    let mut order = stack.admin.orders().await.expect("orders")[0].clone();
    let now = (chrono::Utc::now() + chrono::Duration::minutes(UTC_OFFSET.into()))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    order["io_id"] = json!(9_900_001);
    order["status"] = json!("Confirmed");
    order["io_date"] = json!(now);
    order["modified"] = json!(now);
    stack.admin.add_orders(&[order]).await.expect("add order");

    let _restarted = stack.spawn("jst2tplus-fetcher", &env);
    eventually(
        Duration::from_secs(60),
        "the new order published",
        || async {
            published_io_ids(&nats)
                .await
                .contains_key(&9_900_001)
                .then_some(())
        },
    )
    .await;
    let after = assert_all_published_once(&stack, &scenario).await;
    assert_eq!(after.jst_token_refreshes, 1, "no second refresh: {after:?}");
}
