//! The pipeline on a 3-node JetStream cluster (`deploy/nats/cluster/nats-cluster.conf`, the
//! routes and ports given here) with `nats.replicas = 3`: the node leading the vouchers
//! stream is killed mid-sync; nothing is lost, nothing is written twice, and the services
//! carry on through the other nodes without being restarted.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use j2t_e2e::harness::{Stack, published_io_ids};
use j2t_testkit::{NatsOptions, NatsServer};
use j2t_topology::names::{CURSORS_BUCKET, VOUCHERS_STREAM};
use jst2tplus::reconcile;

use crate::support::{cli, seed};

/// A port free now, for the cluster routes every node must know before any starts.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_cluster() -> Vec<NatsServer> {
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/cluster/nats-cluster.conf");
    let route_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes = route_ports
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    route_ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            NatsServer::start_with(NatsOptions {
                config: Some(config.clone()),
                env: vec![("NATS_SERVER_NAME".to_string(), format!("n{}", i + 1))],
                args: vec![
                    "--cluster".to_string(),
                    format!("nats://127.0.0.1:{port}"),
                    "--routes".to_string(),
                    routes.clone(),
                ],
                ..Default::default()
            })
            .expect("cluster node starts")
        })
        .collect()
}

/// The server leading `stream`'s RAFT group, asked through `url`.
async fn leader(url: &str, stream: &str) -> Option<String> {
    let client = async_nats::connect(url).await.ok()?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(stream).await.ok()?;
    stream.info().await.ok()?.cluster.as_ref()?.leader.clone()
}

async fn replicas(url: &str, stream: &str) -> Option<usize> {
    let client = async_nats::connect(url).await.ok()?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(stream).await.ok()?;
    Some(stream.info().await.ok()?.config.num_replicas)
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_a_node_mid_sync_loses_nothing_and_writes_nothing_twice() {
    let mut nodes = start_cluster();
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    let first = nodes.remove(0);
    let logs = tempfile::tempdir().expect("log dir");
    let mut stack = Stack::start_on(
        first,
        &[
            ("J2T__NATS__URL", urls.join(",")),
            ("J2T__NATS__REPLICAS", "3".to_string()),
        ],
        Some(logs.path()),
    )
    .await;

    // The cluster elects its JetStream leader first; set up once it can.
    let started = Instant::now();
    loop {
        let (ok, text) = cli(&stack, &[], &["nats-setup"]);
        if ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the cluster never accepted the topology: {text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    for stream in [VOUCHERS_STREAM.to_string(), format!("KV_{CURSORS_BUCKET}")] {
        assert_eq!(replicas(&urls[0], &stream).await, Some(3), "{stream}");
    }

    // Slow enough to be caught mid-sync: small pages, 2 JST calls a second.
    let (expected, start_time) = seed(&stack, 300, 5, 66, &[]).await;
    let mut services = vec![
        stack.spawn(
            "jst2tplus-fetcher",
            &[
                ("J2T__FETCHER__START_TIME", start_time),
                ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
                ("J2T__FETCHER__PAGE_SIZE", "10".into()),
                ("J2T__FETCHER__REQUESTS_PER_SECOND", "2".into()),
            ],
        ),
        stack.spawn("jst2tplus-transformer", &[]),
        stack.spawn("jst2tplus-writer", &[]),
    ];

    // Once T+ has the first vouchers, kill the node leading the vouchers stream.
    let started = Instant::now();
    let at_kill = loop {
        let dtos = stack.admin.voucher_dtos().await.unwrap_or_default();
        if !dtos.is_empty() {
            break dtos;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no voucher reached T+"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let victim = leader(&urls[0], VOUCHERS_STREAM)
        .await
        .expect("the vouchers stream's leader");
    let index: usize = victim
        .trim_start_matches('n')
        .parse()
        .expect("a node name n1..n3");
    println!(
        "killing {victim} (leader of {VOUCHERS_STREAM}) with {} voucher(s) in T+",
        at_kill.len()
    );
    match index {
        1 => stack.nats_mut().stop(),
        n => nodes[n - 2].stop(),
    }
    let rows = reconcile::by_day(&expected, &at_kill);
    assert!(
        rows.len() < 5 || !rows.iter().all(|r| r.matches),
        "the sync had finished before the node was killed; the test proves nothing"
    );

    let started = Instant::now();
    let dtos = loop {
        let dtos = stack.admin.voucher_dtos().await.unwrap_or_default();
        let rows = reconcile::by_day(&expected, &dtos);
        if rows.len() == 5 && rows.iter().all(|r| r.matches) {
            break dtos;
        }
        for service in &mut services {
            assert!(
                service.exited().is_none(),
                "{} stopped after the node was lost:\n{}",
                service.name,
                std::fs::read_to_string(logs.path().join(format!("{}.log", service.name)))
                    .unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "T+ sums never matched JST after losing {victim}; T+ holds {} voucher(s)",
            dtos.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Nothing more arrives, no code twice, every order stored once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = stack.admin.voucher_dtos().await.expect("vouchers");
    assert_eq!(settled.len(), dtos.len(), "vouchers kept arriving");
    assert!(reconcile::duplicate_codes(&settled).is_empty());
    let live = urls
        .iter()
        .enumerate()
        .find(|(i, _)| i + 1 != index)
        .map(|(_, url)| url.clone())
        .expect("a live node");
    let stored = published_io_ids(&live).await;
    assert!(!stored.is_empty());
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "orders stored twice: {twice:?}");
    // Reconnected, not restarted: the same processes did it all.
    for service in &mut services {
        assert!(service.exited().is_none(), "{} stopped", service.name);
    }
}
