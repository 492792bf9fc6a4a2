//! Dead-letter counts and pages against a real nats-server: counts come from stream state and
//! replay marks, pages read only their part of the stream; both must agree with a full read.

use std::collections::HashMap;

use j2t_config::Config;
use j2t_domain::{DeadLetter, DeadLetterReason, Stage};
use j2t_stores::{DeadLetterKind, DeadLetters, DlqCount, DlqFilter, PageFrom};
use j2t_testkit::NatsServer;
use j2t_topology::Topology;
use serde_json::json;

async fn topology(nats: &NatsServer) -> Topology {
    let env: HashMap<String, String> = [("J2T__NATS__URL".to_string(), nats.url())].into();
    let config = Config::load_with_env(None, Some(env)).expect("valid config");
    j2t_topology::open(&config).await.expect("topology")
}

const WR: (Stage, DeadLetterReason) = (Stage::Writer, DeadLetterReason::Rejected);
const WX: (Stage, DeadLetterReason) = (Stage::Writer, DeadLetterReason::RetriesExhausted);
const TB: (Stage, DeadLetterReason) = (Stage::Transformer, DeadLetterReason::BadOrder);

/// 30 letters, kinds interleaved: 12 WR, 10 TB, 8 WX. Returns each id with its kind.
async fn seed(topology: &Topology) -> Vec<(u64, (Stage, DeadLetterReason))> {
    let mut ids = Vec::new();
    for i in 0..30u64 {
        let kind = match i % 3 {
            0 if i < 24 => WR,
            1 if i < 24 => TB,
            2 if i < 24 => WX,
            _ => [WR, WR, WR, WR, TB, TB][(i - 24) as usize],
        };
        let letter = DeadLetter::first_attempt(
            kind.0,
            kind.1,
            format!("failure {i}"),
            "j2t.vouchers.other_dispatch".into(),
            json!({ "external_code": format!("J2T-{i}"), "io_ids": [i] }),
        );
        let ack = j2t_stores::publish_dead_letter(&topology.js, &letter, &format!("dl-{i}"))
            .await
            .expect("dead letter stored");
        ids.push((ack.sequence, kind));
    }
    ids
}

fn kind(k: (Stage, DeadLetterReason)) -> DeadLetterKind {
    DeadLetterKind::new(k.0, k.1)
}

/// Every page from the start (or end) to the last, concatenated.
async fn walk(dlq: &DeadLetters, filter: &DlqFilter, newest_first: bool, limit: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let from = if newest_first {
            PageFrom::Before(cursor)
        } else {
            PageFrom::After(cursor)
        };
        let page = dlq.page(filter, from, limit).await.expect("page");
        assert!(page.entries.len() <= limit);
        ids.extend(page.entries.iter().map(|e| e.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
    panic!("pages never ended");
}

#[tokio::test]
async fn counts_and_pages_agree_with_the_stream_including_replayed_entries() {
    let nats = NatsServer::start().expect("nats-server");
    let topology = topology(&nats).await;
    let dlq = DeadLetters::new(&topology);
    assert!(dlq.counts().await.expect("counts").is_empty());
    let seeded = seed(&topology).await;

    // Replay three writer.rejected letters and one transformer.bad_order letter.
    let wr: Vec<u64> = seeded
        .iter()
        .filter(|(_, k)| *k == WR)
        .map(|(id, _)| *id)
        .collect();
    let tb: Vec<u64> = seeded
        .iter()
        .filter(|(_, k)| *k == TB)
        .map(|(id, _)| *id)
        .collect();
    let replayed = [wr[0], wr[5], wr[11]];
    for id in replayed {
        let entry = dlq.get(id).await.expect("get").expect("entry");
        dlq.replay(&entry).await.expect("replay");
    }
    let entry = dlq.get(tb[3]).await.expect("get").expect("entry");
    dlq.replay(&entry).await.expect("replay a raw-order letter");

    let counts = dlq.counts().await.expect("counts");
    assert_eq!(counts.len(), 3);
    assert_eq!(
        counts[&kind(WR)],
        DlqCount {
            stored: 12,
            replayed: 3
        }
    );
    assert_eq!(
        counts[&kind(TB)],
        DlqCount {
            stored: 10,
            replayed: 1
        }
    );
    assert_eq!(
        counts[&kind(WX)],
        DlqCount {
            stored: 8,
            replayed: 0
        }
    );
    assert_eq!(counts[&kind(WR)].pending(), 9);

    // The status shows pending (not replayed) letters per kind, as before.
    let status = j2t_stores::pipeline_status(&topology, 480)
        .await
        .expect("status");
    assert_eq!(status.dead_letters[&kind(WR)], 9);
    assert_eq!(status.dead_letters[&kind(TB)], 9);
    assert_eq!(status.dead_letters[&kind(WX)], 8);
    assert_eq!(status.dead_letters_total(), 26);

    // Pages, both ways, give exactly what the full listing gives.
    let pending = DlqFilter::default();
    let all: Vec<u64> = dlq
        .list(&pending)
        .await
        .expect("list")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(all.len(), 26);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "oldest first");
    for limit in [1, 5, 7, 26, 100] {
        assert_eq!(
            walk(&dlq, &pending, false, limit).await,
            all,
            "limit {limit}"
        );
        let mut newest_first = walk(&dlq, &pending, true, limit).await;
        newest_first.reverse();
        assert_eq!(newest_first, all, "limit {limit}, newest first");
    }
    let first = dlq
        .page(&pending, PageFrom::After(None), 5)
        .await
        .expect("page");
    assert_eq!(first.entries.len(), 5);
    assert_eq!(first.next, Some(all[4]));
    let newest = dlq
        .page(&pending, PageFrom::Before(None), 3)
        .await
        .expect("page");
    let ids: Vec<u64> = newest.entries.iter().map(|e| e.id).collect();
    assert_eq!(ids, [all[25], all[24], all[23]]);

    // Filters: replayed entries only with include_replayed; kinds by subject.
    let writer_rejected_all = DlqFilter {
        stage: Some(Stage::Writer),
        reason: Some(DeadLetterReason::Rejected),
        include_replayed: true,
        ..Default::default()
    };
    assert_eq!(walk(&dlq, &writer_rejected_all, false, 5).await, wr);
    let writer_pending = DlqFilter {
        stage: Some(Stage::Writer),
        ..Default::default()
    };
    let expected: Vec<u64> = seeded
        .iter()
        .filter(|(id, k)| k.0 == Stage::Writer && !replayed.contains(id))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        walk(&dlq, &writer_pending, true, 4)
            .await
            .into_iter()
            .rev()
            .collect::<Vec<_>>(),
        expected
    );
    let page = dlq
        .page(&writer_rejected_all, PageFrom::After(Some(wr[5])), 100)
        .await
        .expect("page after an id");
    assert_eq!(page.entries.first().map(|e| e.id), Some(wr[6]));
    assert!(page.entries.iter().any(|e| e.replayed.is_some()));
    assert_eq!(page.next, None);
    let picked = DlqFilter {
        ids: vec![wr[0], wr[1], tb[0]],
        ..Default::default()
    };
    let ids: Vec<u64> = dlq
        .list(&picked)
        .await
        .expect("list ids")
        .iter()
        .map(|e| e.id)
        .collect();
    let mut expected = vec![wr[1], tb[0]];
    expected.sort_unstable();
    assert_eq!(ids, expected, "oldest first; a replayed id is hidden");

    // Purging a replayed letter takes its mark along: the counts stay right.
    let entry = dlq.get(wr[0]).await.expect("get").expect("entry");
    assert_eq!(dlq.purge(&[entry]).await.expect("purge"), 1);
    let counts = dlq.counts().await.expect("counts");
    assert_eq!(
        counts[&kind(WR)],
        DlqCount {
            stored: 11,
            replayed: 2
        }
    );

    // A mark from before marks were keyed by kind (`<id>`) is still honoured.
    topology
        .dlq_replayed
        .put(
            wr[1].to_string(),
            serde_json::to_vec(
                &json!({"at": "2026-11-28T08:00:00Z", "subject": "j2t.vouchers.other_dispatch"}),
            )
            .expect("json")
            .into(),
        )
        .await
        .expect("legacy mark");
    let counts = dlq.counts().await.expect("counts");
    assert_eq!(
        counts[&kind(WR)],
        DlqCount {
            stored: 11,
            replayed: 3
        }
    );
    let entry = dlq.get(wr[1]).await.expect("get").expect("entry");
    assert!(entry.replayed.is_some());

    // A mark whose letter is gone from the stream (aged out) is swept.
    topology
        .dlq_replayed
        .put("writer.rejected.0", b"{}".to_vec().into())
        .await
        .expect("stale mark");
    assert_eq!(dlq.counts().await.expect("counts")[&kind(WR)].replayed, 4);
    assert_eq!(dlq.sweep_marks().await.expect("sweep"), 1);
    assert_eq!(dlq.counts().await.expect("counts")[&kind(WR)].replayed, 3);
}

/// A held-back letter (several orders) replays into one window of its own: every order on
/// one replay subject, one window event counting them; a letter held again from that replay
/// window replays beside the first window. Replaying twice stores nothing twice.
#[tokio::test]
async fn a_held_back_letter_replays_as_one_window_of_all_its_orders() {
    use futures::StreamExt;
    use j2t_domain::WindowClosed;
    use j2t_topology::names;

    let nats = NatsServer::start().expect("nats-server");
    let topology = topology(&nats).await;
    let dlq = DeadLetters::new(&topology);
    let window = "20261125000000-20261125235959";
    let original = names::orders_subject("shop1", window);
    let orders = [
        json!({"io_id": 7, "items": []}),
        json!({"io_id": 9, "items": []}),
    ];
    let letter = DeadLetter::first_attempt(
        Stage::Transformer,
        DeadLetterReason::UnknownInventory,
        "T+ has no inventory `X`".into(),
        original.clone(),
        json!({"kind": "inventory", "code": "X", "io_ids": [7, 9], "orders": orders}),
    );
    j2t_stores::publish_dead_letter(&topology.js, &letter, "held-1")
        .await
        .expect("stored");
    let entry = dlq
        .list(&DlqFilter::default())
        .await
        .expect("list")
        .remove(0);
    let subject = dlq.replay(&entry).await.expect("replayed");
    assert_eq!(subject, names::replay_orders_subject(&original, entry.id));
    // Again (e.g. forced): the same message ids, nothing stored twice.
    dlq.replay(&entry).await.expect("replayed again");

    let orders_stream = topology
        .js
        .get_stream(names::ORDERS_STREAM)
        .await
        .expect("stream");
    let consumer = orders_stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: subject.clone(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    assert_eq!(
        consumer.cached_info().num_pending,
        2,
        "each order stored once"
    );
    let mut messages = consumer.messages().await.expect("messages");
    let mut stored = Vec::new();
    for _ in 0..2 {
        let msg = messages.next().await.expect("message").expect("message");
        stored.push(serde_json::from_slice::<serde_json::Value>(&msg.payload).expect("json"));
    }
    assert_eq!(stored, orders);
    // The windows stream is a work queue: read its state and last message, do not consume.
    let mut windows = topology
        .js
        .get_stream(names::WINDOWS_STREAM)
        .await
        .expect("stream");
    assert_eq!(windows.info().await.expect("info").state.messages, 1);
    let event = windows
        .get_last_raw_message_by_subject(&names::windows_subject("shop1"))
        .await
        .expect("the window event");
    let closed: WindowClosed = serde_json::from_slice(&event.payload).expect("event");
    assert_eq!(
        (closed.orders_subject.as_str(), closed.orders),
        (subject.as_str(), 2)
    );
    assert_eq!(closed.window.id(), window);

    // Held again from the replay window: replayable, beside the first window.
    let again = DeadLetter {
        original_subject: subject.clone(),
        ..letter
    };
    j2t_stores::publish_dead_letter(&topology.js, &again, "held-2")
        .await
        .expect("stored");
    let second = dlq
        .list(&DlqFilter::default())
        .await
        .expect("list")
        .remove(0);
    assert_ne!(second.id, entry.id);
    let subject2 = dlq.replay(&second).await.expect("replayed");
    assert_eq!(subject2, format!("{original}_replay{}", second.id));
}
