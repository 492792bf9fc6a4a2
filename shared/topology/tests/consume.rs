//! `consume` against a real nats-server: when the durable consumer goes away under a running
//! pull stream, the loop looks it up again (here: once it is set up anew) and carries on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use j2t_testkit::NatsServer;
use j2t_topology::names;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_consumer_is_looked_up_again_and_consumption_goes_on() {
    let server = NatsServer::start().expect("nats-server");
    let mut cfg = j2t_config::Config::load_with_env(None, Some(Default::default())).expect("cfg");
    cfg.nats.url = server.url();
    let topology = j2t_topology::open(&cfg).await.expect("topology");
    let opened = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let consuming = {
        let (topology, opened, handled, shutdown) = (
            topology.clone(),
            opened.clone(),
            handled.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            j2t_topology::consume(
                || {
                    opened.fetch_add(1, Ordering::SeqCst);
                    topology.writer_consumer()
                },
                2,
                &shutdown,
                |msg| {
                    let handled = handled.clone();
                    async move {
                        let _ = msg.double_ack().await;
                        handled.fetch_add(1, Ordering::SeqCst);
                    }
                },
            )
            .await;
        })
    };
    let publish = |n: u32| {
        let js = topology.js.clone();
        async move {
            js.publish(names::VOUCHERS_SUBJECT, format!("{n}").into())
                .await
                .expect("publish")
                .await
                .expect("puback");
        }
    };
    let wait_for = |count: usize, what: &'static str| {
        let handled = handled.clone();
        async move {
            let started = Instant::now();
            while handled.load(Ordering::SeqCst) < count {
                assert!(started.elapsed() < Duration::from_secs(60), "{what}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    publish(1).await;
    wait_for(1, "the first message handled").await;

    let stream = topology
        .js
        .get_stream(names::VOUCHERS_STREAM)
        .await
        .expect("stream");
    stream
        .delete_consumer(names::WRITER_CONSUMER)
        .await
        .expect("consumer deleted");
    j2t_topology::ensure(topology.js.clone(), &cfg)
        .await
        .expect("set up again");
    publish(2).await;
    wait_for(2, "a message after the consumer was set up anew").await;
    assert!(
        opened.load(Ordering::SeqCst) >= 2,
        "the consumer was looked up again"
    );
    shutdown.cancel();
    consuming.await.expect("consume ends at shutdown");
}
