//! Pipeline throughput when JST is not the limit: orders per second from the fetcher's start
//! until T+ holds every voucher, with JST's rate limits lifted (in the simulator and in the
//! fetcher's config), as a fraction of raw JetStream publish-then-consume of as many
//! order-sized messages on the same nats-server, measured in the same run. Also each stage's
//! finish, where the fetcher's time went (JST answers, rate schedule: its metrics), and each
//! process's peak RSS (VmHWM) and CPU seconds during the pipeline. At the end T+ must hold
//! exactly the Confirmed quantities per (date, SKU), no ExternalCode twice.
//!
//! `cargo bench -p j2t-e2e --bench pipeline_throughput` (outside CI; builds the binaries for
//! the bench profile, i.e. release, on first use).
//! Optional: `J2T_BENCH_ORDERS` (default 20000 demo orders, about 81 % of them Confirmed),
//! `J2T_BENCH_DAYS` (default 3: one window per day), `J2T_BENCH_LOGS` (a directory for the
//! processes' logs; default: a temporary one, removed).
//!
//! Raw JetStream does what the services do with NATS, nothing else: publish like the fetcher
//! (a message id and two headers per message, up to `fetcher.max_in_flight` PubAcks pending,
//! then all awaited), then read everything back through a durable pull consumer acking each
//! message. The pipeline does much more per order (KV reads and writes for dedup and lineage,
//! the JST HTTP pages, the merge, T+): the ratio shows how much of NATS's speed reaches the
//! orders.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use j2t_e2e::harness::{Stack, admin_port, env_or, metric, peak_rss_mib, stream_messages};
use j2t_simulator::{DemoSpec, JstFaults};
use j2t_testkit::Service;
use j2t_topology::names;
use jst2tplus::reconcile;

/// `fetcher.max_in_flight`'s default: PubAcks pending before the fetcher awaits them.
const MAX_IN_FLIGHT: usize = 256;
/// JST limits far above what this machine can serve: JST is not the limit.
const LIFTED_PER_SECOND: u32 = 100_000;
const LIFTED_PER_MINUTE: u32 = 6_000_000;
/// Rounds of the raw JetStream measurement; the median is reported.
const RAW_ROUNDS: usize = 3;
const POLL: Duration = Duration::from_millis(50);
const LIMIT: Duration = Duration::from_secs(1800);

/// CPU time (user + system) a live process has used, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks / 100.0)
}

/// The sum of every sample of metric `name` (all label sets) on a service's `/metrics`.
async fn metric_sum(port: u16, name: &str) -> f64 {
    let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct Raw {
    publish: Duration,
    consume: Duration,
}

/// Publishes `n` copies of `payload` to a scratch stream the way the fetcher publishes, then
/// consumes them with a durable pull consumer acking each; the stream is deleted after.
async fn raw_jetstream(nats_url: &str, payload: &[u8], n: usize) -> Raw {
    let client = async_nats::connect(nats_url).await.expect("connect");
    let js = jetstream::new(client);
    let name = "BENCH_RAW";
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec!["bench.raw.>".into()],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .expect("scratch stream");
    let started = Instant::now();
    let mut acks = Vec::with_capacity(MAX_IN_FLIGHT);
    for i in 0..n {
        let message = jetstream::message::PublishMessage::build()
            .payload(payload.to_vec().into())
            .message_id(format!("bench:w:{i}"))
            .header(names::HEADER_TASK, "bench")
            .header(names::HEADER_WINDOW, "w");
        acks.push(
            js.send_publish("bench.raw.w", message)
                .await
                .expect("publish"),
        );
        if acks.len() >= MAX_IN_FLIGHT {
            for ack in acks.drain(..) {
                ack.await.expect("PubAck");
            }
        }
    }
    for ack in acks.drain(..) {
        ack.await.expect("PubAck");
    }
    let publish = started.elapsed();

    let started = Instant::now();
    let stream = js.get_stream(name).await.expect("stream");
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("pull");
    let mut seen = 0;
    while seen < n {
        let msg = messages.next().await.expect("more").expect("message");
        msg.ack().await.expect("ack");
        seen += 1;
    }
    let consume = started.elapsed();
    js.delete_stream(name).await.expect("delete scratch stream");
    Raw { publish, consume }
}

/// Seconds since `started`, once.
fn mark(at: &mut Option<Duration>, started: Instant, done: bool) {
    if done && at.is_none() {
        *at = Some(started.elapsed());
    }
}

#[tokio::main]
async fn main() {
    let orders = env_or("J2T_BENCH_ORDERS", 20_000) as u32;
    let days = env_or("J2T_BENCH_DAYS", 3) as u32;
    let temp = tempfile::tempdir().expect("log dir");
    let logs = std::env::var_os("J2T_BENCH_LOGS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&logs).expect("log dir");
    // Room for the orders and their keys (the test stack's limits are small).
    let room = [
        ("J2T__NATS__ORDERS_MAX_BYTES", (512i64 << 20).to_string()),
        ("J2T__NATS__VOUCHERS_MAX_BYTES", (64i64 << 20).to_string()),
        ("J2T__NATS__BUCKET_MAX_BYTES", (64i64 << 20).to_string()),
        ("J2T__NATS__WRITTEN_MAX_BYTES", (256i64 << 20).to_string()),
    ];
    let stack = Stack::start_with(&room, Some(&logs)).await;
    stack
        .admin
        .seed(&DemoSpec {
            orders,
            days,
            seed: 1,
            end_date: None,
        })
        .await
        .expect("seed");
    let source = stack.admin.orders().await.expect("orders");
    let confirmed: Vec<_> = source
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .collect();
    let n = confirmed.len();
    let payload = serde_json::to_vec(confirmed[n / 2]).expect("order JSON");
    let expected = reconcile::expected(&source, "Confirmed");
    drop(source);
    println!(
        "pipeline throughput: {orders} demo orders over {days} days, {n} Confirmed; \
         load average {}; logs in {}",
        load_average(),
        logs.display()
    );

    // (a) Raw JetStream, same server, same number of order-sized messages.
    // The median of a few rounds: on a shared machine one round can be off by half.
    let mut rates = Vec::new();
    for _ in 0..RAW_ROUNDS {
        let raw = raw_jetstream(&stack.nats_url(), &payload, n).await;
        let rate = n as f64 / (raw.publish + raw.consume).as_secs_f64();
        println!(
            "raw JetStream: {n} messages of {} bytes: publish {:.2} s ({:.0}/s), consume+ack \
             {:.2} s ({:.0}/s), publish-then-consume {rate:.0} msgs/s",
            payload.len(),
            raw.publish.as_secs_f64(),
            n as f64 / raw.publish.as_secs_f64(),
            raw.consume.as_secs_f64(),
            n as f64 / raw.consume.as_secs_f64(),
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let raw_rate = rates[rates.len() / 2];

    // (b) The pipeline with JST's limits lifted and no T+ latency.
    stack
        .admin
        .set_jst_faults(&JstFaults {
            per_second: Some(LIFTED_PER_SECOND),
            per_minute: Some(LIFTED_PER_MINUTE),
            ..Default::default()
        })
        .await
        .expect("JST faults");
    let first = j2t_simulator::jst_today(480) - chrono::Duration::days(i64::from(days));
    let env = [
        ("J2T__FETCHER__START_TIME", format!("{first} 00:00:00")),
        (
            "J2T__FETCHER__REQUESTS_PER_SECOND",
            LIFTED_PER_SECOND.to_string(),
        ),
        (
            "J2T__FETCHER__REQUESTS_PER_MINUTE",
            LIFTED_PER_MINUTE.to_string(),
        ),
        // The re-check would read the same days again once caught up: not part of the flow.
        ("J2T__FETCHER__RECHECK_DAYS", "0".to_string()),
    ];
    let mut transformer = stack.spawn("jst2tplus-transformer", &env);
    let mut writer = stack.spawn("jst2tplus-writer", &env);
    let transformer_port = admin_port(&mut transformer).await;
    admin_port(&mut writer).await;
    let cpu_before = [stack.simulator_pid(), transformer.id(), writer.id()]
        .map(|pid| cpu_secs(pid).unwrap_or_default());
    let nats_cpu_before = stack.nats().pid().and_then(cpu_secs).unwrap_or_default();
    let started = Instant::now();
    let mut fetcher: Service = stack.spawn("jst2tplus-fetcher", &env);

    let nats = stack.nats_url();
    let (mut fetched, mut transformed, mut written) = (None, None, None);
    let mut vouchers = 0;
    while written.is_none() {
        tokio::time::sleep(POLL).await;
        let stored = stream_messages(&nats, names::ORDERS_STREAM).await;
        mark(&mut fetched, started, stored as usize >= n);
        let merged = metric(transformer_port, "j2t_transformer_orders_total")
            .await
            .unwrap_or(0.0);
        mark(&mut transformed, started, merged as usize >= n);
        if transformed.is_some() {
            vouchers = stream_messages(&nats, names::VOUCHERS_STREAM).await;
            let in_tplus = stack.admin.stats().await.map_or(0, |s| s.vouchers);
            mark(&mut written, started, in_tplus as u64 >= vouchers);
        }
        assert!(
            started.elapsed() < LIMIT,
            "pipeline stalled: {stored} stored, {merged} merged after {LIMIT:?}"
        );
    }
    let processes = [
        ("fetcher", Some(fetcher.id())),
        ("transformer", Some(transformer.id())),
        ("writer", Some(writer.id())),
        ("simulator", Some(stack.simulator_pid())),
        ("nats-server", stack.nats().pid()),
    ]
    .map(|(what, pid)| {
        let before = match what {
            "simulator" => cpu_before[0],
            "transformer" => cpu_before[1],
            "writer" => cpu_before[2],
            "nats-server" => nats_cpu_before,
            _ => 0.0,
        };
        (
            what,
            pid.and_then(peak_rss_mib),
            pid.and_then(cpu_secs).map(|c| c - before),
        )
    });
    // Where the fetcher's time went: JST answers (HTTP round trip, the simulator's work
    // included) and waits for the rate schedule; the rest is its own work and NATS.
    let fetcher_port = admin_port(&mut fetcher).await;
    let jst_secs = metric_sum(fetcher_port, "j2t_jst_request_duration_seconds_sum").await;
    let jst_requests = metric_sum(fetcher_port, "j2t_jst_request_duration_seconds_count").await;
    let rate_wait = metric_sum(fetcher_port, "j2t_jst_rate_limit_wait_seconds_sum").await;
    let dtos = stack.admin.voucher_dtos().await.expect("vouchers");
    let rows = reconcile::by_day(&expected, &dtos);
    let exact = rows.iter().all(|r| r.matches);
    let twice = reconcile::duplicate_codes(&dtos);

    let at = |d: Option<Duration>| d.unwrap_or_default().as_secs_f64();
    let total = at(written);
    let rate = n as f64 / total;
    println!("\nstage finished (from the fetcher's start)     seconds  orders/s");
    println!(
        "fetcher: every order in J2T_ORDERS           {:>8.2}  {:>8.0}",
        at(fetched),
        n as f64 / at(fetched)
    );
    println!(
        "transformer: every order merged              {:>8.2}  {:>8.0}",
        at(transformed),
        n as f64 / at(transformed)
    );
    println!(
        "writer: every voucher in T+ ({vouchers:>4} vouchers)   {:>8.2}  {:>8.0}",
        total, rate
    );
    println!("\nraw JetStream msgs/s (median)  pipeline orders/s  ratio");
    println!("{raw_rate:>20.0}  {rate:>17.0}  {:>5.3}", rate / raw_rate);
    println!(
        "\nfetcher: {jst_requests:.0} JST requests, {jst_secs:.2} s waiting for their answers \
         ({:.1} ms each), {rate_wait:.2} s for the rate schedule; fetch stage {:.2} s",
        1000.0 * jst_secs / jst_requests.max(1.0),
        at(fetched)
    );
    println!("\nprocess       peak RSS (VmHWM)  CPU s (pipeline)");
    for (what, mib, cpu) in processes {
        let mib = mib.map_or("unknown".into(), |m| format!("{m:.1} MiB"));
        let cpu = cpu.map_or("unknown".into(), |c| format!("{c:.2}"));
        println!("  {what:<12} {mib:>16}  {cpu:>17}");
    }
    println!(
        "\nΣ qty per (date, SKU) exact on all {} days: {exact}; ExternalCodes twice: {}; \
         load average {}",
        rows.len(),
        twice.len(),
        load_average()
    );
    assert!(exact, "T+ does not hold the Confirmed quantities");
    assert!(twice.is_empty(), "duplicate codes: {twice:?}");
}
