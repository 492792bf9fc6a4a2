use std::time::{Duration, Instant};

use j2t_simulator::AdminClient;
use j2t_testkit::{NatsServer, Service};

/// NATS, the simulator, and the environment the services need to reach them.
pub struct Stack {
    nats: NatsServer,
    // Held so it lives (and is killed) with the stack.
    simulator: Service,
    pub admin: AdminClient,
    /// Base URL of the simulated Jushuitan (which also serves the admin API).
    pub jst_url: String,
    pub env: Vec<(String, String)>,
    /// When set, every process's output goes to `<dir>/<binary>.log` instead of the test's.
    log_dir: Option<std::path::PathBuf>,
}

fn var(key: &str, value: impl ToString) -> (String, String) {
    (key.to_string(), value.to_string())
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(&[], None).await
    }

    /// A stack whose every process (simulator and services) also gets `extra` in its
    /// environment, and logs to files in `log_dir` when given.
    pub async fn start_with(extra: &[(&str, String)], log_dir: Option<&std::path::Path>) -> Stack {
        let nats = NatsServer::start().expect("nats-server starts");
        Self::start_on(nats, extra, log_dir).await
    }

    /// A stack on a server the test started itself (TLS, users, a cluster's first node).
    pub async fn start_on(
        nats: NatsServer,
        extra: &[(&str, String)],
        log_dir: Option<&std::path::Path>,
    ) -> Stack {
        let extra: Vec<_> = extra.iter().map(|(k, v)| var(k, v)).collect();
        // The simulator binds port 0 for both APIs and reports what it got.
        let mut sim_env = vec![
            var("J2T__NATS__URL", nats.url()),
            var("J2T__ADMIN__LISTEN", "127.0.0.1:0"),
            var("J2T__SIMULATOR__JST_LISTEN", "127.0.0.1:0"),
            var("J2T__SIMULATOR__TPLUS_LISTEN", "127.0.0.1:0"),
            var("RUST_LOG", "warn"),
        ];
        sim_env.extend(extra.iter().cloned());
        let log_dir = log_dir.map(std::path::Path::to_path_buf);
        let log = log_dir.as_ref().map(|d| d.join("jst2tplus-simulator.log"));
        let mut simulator =
            Service::spawn_with_log("jst2tplus-simulator", &sim_env, log.as_deref())
                .expect("simulator starts");
        let jst = format!(
            "http://{}",
            simulator
                .listening("jst")
                .await
                .expect("simulator's JST port")
        );
        let tplus = format!(
            "http://{}",
            simulator
                .listening("tplus")
                .await
                .expect("simulator's T+ port")
        );
        let mut env = vec![
            var("J2T__NATS__URL", nats.url()),
            // Small byte limits: nats-server reserves them up front, and several test
            // servers run at once (a test may raise one through `extra`).
            var("J2T__NATS__ORDERS_MAX_BYTES", 64 << 20),
            var("J2T__NATS__WINDOWS_MAX_BYTES", 8 << 20),
            var("J2T__NATS__VOUCHERS_MAX_BYTES", 16 << 20),
            var("J2T__NATS__DLQ_MAX_BYTES", 16 << 20),
            var("J2T__NATS__RESULTS_MAX_BYTES", 8 << 20),
            var("J2T__NATS__BUCKET_MAX_BYTES", 4 << 20),
            var("J2T__NATS__CHANGES_MAX_BYTES", 4 << 20),
            var("J2T__NATS__WRITTEN_MAX_BYTES", 4 << 20),
            var("J2T__JST__BASE_URL", &jst),
            var("J2T__TPLUS__BASE_URL", &tplus),
            var("J2T__ADMIN__LISTEN", "127.0.0.1:0"),
            var("RUST_LOG", "warn"),
        ];
        env.extend(extra);
        let admin = AdminClient::new(jst.clone());
        let started = Instant::now();
        while admin.stats().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "simulator never answered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Stack {
            nats,
            simulator,
            admin,
            jst_url: jst,
            env,
            log_dir,
        }
    }

    pub fn nats(&self) -> &NatsServer {
        &self.nats
    }

    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// The simulator's process id (to read its peak memory in `/proc`).
    pub fn simulator_pid(&self) -> u32 {
        self.simulator.id()
    }

    /// The NATS server, to stop and start it again (an outage).
    pub fn nats_mut(&mut self) -> &mut NatsServer {
        &mut self.nats
    }

    /// Starts a service binary with the stack's environment plus `extra`. Its listeners bind
    /// port 0 (unless `extra` says otherwise): ask [`Service::listening`] for the address.
    pub fn spawn(&self, bin: &str, extra: &[(&str, String)]) -> Service {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| var(k, v)));
        let log = self.log_dir.as_ref().map(|d| d.join(format!("{bin}.log")));
        Service::spawn_with_log(bin, &env, log.as_deref())
            .unwrap_or_else(|e| panic!("{bin} starts: {e}"))
    }
}

/// Polls `check` every 250 ms until it returns `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How often each io_id was stored in the raw-orders stream (empty if it does not exist yet).
pub async fn published_io_ids(nats_url: &str) -> std::collections::HashMap<i64, usize> {
    let mut counts = std::collections::HashMap::new();
    let Ok(client) = async_nats::connect(nats_url).await else {
        return counts;
    };
    let js = async_nats::jetstream::new(client);
    let Ok(mut stream) = js.get_stream(j2t_topology::names::ORDERS_STREAM).await else {
        return counts;
    };
    let Ok(info) = stream.info().await else {
        return counts;
    };
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    for seq in first..=last {
        if let Ok(message) = stream.get_raw_message(seq).await
            && let Ok(order) = serde_json::from_slice::<serde_json::Value>(&message.payload)
            && let Some(io_id) = order["io_id"].as_i64()
        {
            *counts.entry(io_id).or_default() += 1;
        }
    }
    counts
}

/// The window-closed events in the windows stream (those no transformer has taken yet).
pub async fn closed_windows(js: &async_nats::jetstream::Context) -> Vec<j2t_domain::WindowClosed> {
    let mut found = Vec::new();
    let Ok(mut stream) = js.get_stream(j2t_topology::names::WINDOWS_STREAM).await else {
        return found;
    };
    let Ok(info) = stream.info().await else {
        return found;
    };
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(msg) = stream.get_raw_message(seq).await
            && let Ok(closed) = serde_json::from_slice(&msg.payload)
        {
            found.push(closed);
        }
    }
    found
}

/// Messages in a stream (0 if it does not exist yet).
pub async fn stream_messages(nats_url: &str, stream: &str) -> u64 {
    let Ok(client) = async_nats::connect(nats_url).await else {
        return 0;
    };
    let js = async_nats::jetstream::new(client);
    match js.get_stream(stream).await {
        Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

/// The admin endpoint (`/healthz`, `/readyz`, `/metrics`) of a service started by the stack.
pub async fn admin_port(service: &mut Service) -> u16 {
    let name = service.name.clone();
    service
        .listening("admin")
        .await
        .unwrap_or_else(|e| panic!("{name}'s admin address: {e}"))
        .port()
}

/// Scrapes `/metrics` on `port` and returns the value of the sample `series` (the metric name
/// with its labels exactly as rendered, e.g. `x_total{task="default"}`).
pub async fn metric(port: u16, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// A benchmark's setting from the environment, or `default` when unset or unreadable.
pub fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set (VmHWM) of a live process, in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
