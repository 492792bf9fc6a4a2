//! The lines written per io_id (`j2t_written`) against a real nats-server: a first record is
//! never overwritten by a repeated window, an update is compare-and-set, the scan cursor is
//! kept per task.

use std::collections::HashMap;

use j2t_config::Config;
use j2t_domain::{WrittenLine, WrittenOrder};
use j2t_stores::WrittenOrders;
use j2t_testkit::NatsServer;

fn record(io_id: i64, qty: i64, seen_ts: i64) -> WrittenOrder {
    WrittenOrder {
        io_id,
        external_code: "JT1".into(),
        lines: vec![WrittenLine {
            date: "2026-11-25".into(),
            warehouse: "1".into(),
            sku: "A".into(),
            qty_micro: qty * 1_000_000,
            amount_micro: 0,
        }],
        written_ts: seen_ts,
        seen_ts,
        history: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn first_records_stay_updates_are_compare_and_set() {
    let nats = NatsServer::start().expect("nats-server");
    let env: HashMap<String, String> = [("J2T__NATS__URL".to_string(), nats.url())].into();
    let config = Config::load_with_env(None, Some(env)).expect("valid config");
    let topology = j2t_topology::open(&config).await.expect("topology");
    let written = WrittenOrders::new(&topology);

    written
        .create_all(&[record(1, 3, 5), record(2, 1, 6)])
        .await
        .expect("created");
    let (first, revision) = written.get(1).await.expect("read").expect("there");
    assert_eq!(first, record(1, 3, 5));

    // Corrected since: a repeated window's records do not undo it.
    let corrected = record(1, 2, 9);
    assert!(written.update(&corrected, revision).await.expect("update"));
    written.create_all(&[record(1, 3, 5)]).await.expect("again");
    assert_eq!(
        written.get(1).await.expect("read").expect("there").0,
        corrected
    );
    // A stale revision is refused.
    assert!(
        !written
            .update(&record(1, 7, 10), revision)
            .await
            .expect("stale")
    );

    let many = written.many(&[1, 2, 3]).await.expect("many");
    assert_eq!(many.len(), 2);
    assert!(written.get(3).await.expect("read").is_none());

    assert_eq!(written.scan_cursor("shop").await.expect("cursor"), None);
    written
        .set_scan_cursor("shop", "2026-11-25 10:00:00")
        .await
        .expect("set");
    assert_eq!(
        written
            .scan_cursor("shop")
            .await
            .expect("cursor")
            .as_deref(),
        Some("2026-11-25 10:00:00")
    );
}
