//! The pipeline on a secured NATS: the server runs `deploy/nats/nats-server.conf` as it is
//! (mutual TLS with certificates made here, one user per service with the permissions of
//! `deploy/nats/users.conf`); the operator user sets the topology up, each service connects
//! as its own user and may not create it. A service given another service's user is refused
//! by NATS, says so, and exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use j2t_e2e::harness::{Stack, admin_port, eventually, metric};
use j2t_testkit::{NatsOptions, NatsServer};
use jst2tplus::reconcile;
use serde_json::{Value, json};

use crate::support::{cli, seed};

const NOVEL_SKU: &str = "SKU-NATSSEC-NEW";
const USERS: [&str; 5] = ["fetcher", "transformer", "writer", "monitor", "operator"];

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with
/// the `openssl` command.
pub struct Certs {
    pub dir: tempfile::TempDir,
}

impl Certs {
    pub fn make() -> Certs {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        std::fs::write(
            dir.path().join("client.ext"),
            "extendedKeyUsage=clientAuth\n",
        )
        .expect("ext");
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=j2t test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]);
        for name in ["server", "client"] {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN=j2t {name}"),
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        Certs { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats")
}

fn password(user: &str) -> String {
    format!("pw-{user}-{}", std::process::id())
}

/// The environment of a process connecting as `user` (TLS with a client certificate).
fn as_user(certs: &Certs, user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("J2T__NATS__USER", user.to_string()),
        ("J2T__NATS__PASSWORD", password(user)),
        ("J2T__NATS__INBOX_PREFIX", format!("_INBOX_{user}")),
        ("J2T__NATS__CREATE_TOPOLOGY", "false".to_string()),
    ]
    .into_iter()
    .chain(tls_env(certs))
    .collect()
}

fn tls_env(certs: &Certs) -> Vec<(&'static str, String)> {
    vec![
        ("J2T__NATS__TLS_CA_FILE", certs.path("ca.pem")),
        ("J2T__NATS__TLS_CERT_FILE", certs.path("client.pem")),
        ("J2T__NATS__TLS_KEY_FILE", certs.path("client-key.pem")),
        ("J2T__NATS__TLS_REQUIRED", "true".to_string()),
    ]
}

fn secured_server(certs: &Certs) -> NatsServer {
    let mut env = vec![
        ("NATS_TLS_CERT".to_string(), certs.path("server.pem")),
        ("NATS_TLS_KEY".to_string(), certs.path("server-key.pem")),
        ("NATS_TLS_CA".to_string(), certs.path("ca.pem")),
    ];
    for user in USERS {
        env.push((
            format!("{}_NATS_PASSWORD", user.to_uppercase()),
            password(user),
        ));
    }
    NatsServer::start_with(NatsOptions {
        config: Some(deploy_dir().join("nats-server.conf")),
        env,
        tls: true,
        ..Default::default()
    })
    .expect("secured nats-server starts")
}

fn with_owned<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pipeline_runs_on_tls_with_one_least_privileged_user_per_service() {
    let certs = Certs::make();
    let logs = tempfile::tempdir().expect("log dir");
    let stack = Stack::start_on(secured_server(&certs), &[], Some(logs.path())).await;

    // Without credentials or without TLS, the server refuses.
    let (ok, text) = cli(&stack, &with_owned(&tls_env(&certs)), &["nats-setup"]);
    assert!(!ok, "set-up without a user must be refused: {text}");
    assert!(text.contains("authorization violation"), "{text}");

    // Another service's user may not create the topology.
    let fetcher_env = as_user(&certs, "fetcher");
    let (ok, text) = cli(&stack, &with_owned(&fetcher_env), &["nats-setup"]);
    assert!(
        !ok,
        "the fetcher's user must not set up the topology: {text}"
    );
    assert!(
        text.contains("user `fetcher`") && text.contains("Permissions Violation"),
        "{text}"
    );

    let operator = as_user(&certs, "operator");
    let (ok, text) = cli(&stack, &with_owned(&operator), &["nats-setup"]);
    assert!(ok, "operator set-up: {text}");

    // Violations from here on are the services'.
    let refusals_so_far = violations(&stack.nats().log()).lines().count();
    let (expected, start_time) = seed(&stack, 120, 3, 14, &[]).await;
    // One more order ships a product T+ lacks: the transformer holds it as a dead letter,
    // which the monitor's console replays once T+ has the product.
    let mut source = stack.admin.orders().await.expect("orders");
    let mut novel = source
        .iter()
        .find(|o| o["status"] == "Confirmed")
        .cloned()
        .expect("a Confirmed order");
    novel["io_id"] = json!(990_001);
    novel["so_id"] = json!("SO-NATSSEC-NOVEL");
    novel["items"] = json!([{
        "ioi_id": 990_001, "sku_id": NOVEL_SKU, "name": "新品", "qty": 3,
        "sale_price": 10.0, "sale_amount": 30.0, "is_gift": false
    }]);
    stack
        .admin
        .add_orders(&[novel.clone()])
        .await
        .expect("novel order");
    source.push(novel);
    let expected_all = reconcile::expected(&source, "Confirmed");
    let token = format!("console-{}", std::process::id());
    let mut services = Vec::new();
    for (bin, user) in [
        ("jst2tplus-fetcher", "fetcher"),
        ("jst2tplus-transformer", "transformer"),
        ("jst2tplus-writer", "writer"),
        ("jst2tplus-monitor", "monitor"),
    ] {
        let mut env = as_user(&certs, user);
        env.push(("J2T__FETCHER__START_TIME", start_time.clone()));
        env.push(("J2T__FETCHER__POLL_INTERVAL_SECS", "1".to_string()));
        env.push(("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".to_string()));
        env.push(("J2T__MONITOR__CONSOLE_TOKEN", token.clone()));
        env.push((
            "J2T__TRANSFORMER__MASTER_DATA_MISS_REFRESH_SECS",
            "0".to_string(),
        ));
        env.push(("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".to_string()));
        services.push(stack.spawn(bin, &env));
    }

    let admin = &stack.admin;
    let console = services[3].listening("console").await.expect("the console");
    let dead_letters = format!("http://{console}/api/dead-letters");
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let mut replayed = false;
    loop {
        let dtos = admin.voucher_dtos().await.unwrap_or_default();
        let rows = reconcile::by_day(&expected_all, &dtos);
        if rows.len() == 3 && rows.iter().all(|r| r.matches) {
            break;
        }
        // The rest in T+ and the novel order held: T+ learns the product, the console replays.
        let rest = reconcile::by_day(&expected, &dtos);
        if !replayed && rest.len() == 3 && rest.iter().all(|r| r.matches) {
            let rows: Vec<Value> = match http.get(&dead_letters).bearer_auth(&token).send().await {
                Ok(answer) => answer.json().await.unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            if let Some(id) = rows.first().and_then(|r| r["id"].as_u64()) {
                admin
                    .add_inventories(&[NOVEL_SKU])
                    .await
                    .expect("master data");
                let answer = http
                    .post(format!("{dead_letters}/{id}/replay"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("replay answers");
                assert!(
                    answer.status().is_success(),
                    "replay: {:?}",
                    answer.text().await
                );
                replayed = true;
            }
        }
        let stopped = services.iter_mut().any(|s| s.exited().is_some());
        if stopped || started.elapsed() > Duration::from_secs(120) {
            panic!(
                "T+ sums never matched JST; server:\n{}\nservices:\n{}",
                violations(&stack.nats().log()),
                service_logs(logs.path())
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The fetcher's spare-budget work runs once it is caught up: wait until a change scan
    // (which saves its cursor in `j2t_written`) and a re-check pass have run, so their
    // permissions are judged too.
    let fetcher_admin = admin_port(&mut services[0]).await;
    for series in [
        "j2t_fetcher_change_scan_pages_total{task=\"default\"}",
        "j2t_fetcher_recheck_passes_total{task=\"default\"}",
    ] {
        eventually(Duration::from_secs(120), series, || async {
            metric(fetcher_admin, series).await.filter(|v| *v >= 1.0)
        })
        .await;
    }
    // Some more rounds of every service (the monitor evaluates every second) before their
    // permissions are judged; nothing may arrive twice meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dtos = admin.voucher_dtos().await.expect("vouchers");
    assert!(reconcile::duplicate_codes(&dtos).is_empty());
    assert!(
        reconcile::by_day(&expected_all, &dtos)
            .iter()
            .all(|r| r.matches)
    );
    assert!(replayed, "the novel order's dead letter was never replayed");
    for service in &mut services {
        assert!(
            service.exited().is_none(),
            "{} stopped: {}",
            service.name,
            std::fs::read_to_string(logs.path().join(format!("{}.log", service.name)))
                .unwrap_or_default()
        );
    }
    let refusals = violations(&stack.nats().log());
    assert_eq!(
        refusals.lines().count(),
        refusals_so_far,
        "a service lacked a permission:\n{refusals}"
    );

    // The operator's commands work as the operator.
    let (ok, text) = cli(&stack, &with_owned(&operator), &["dlq", "list"]);
    assert!(ok, "dlq list as operator: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_given_another_services_user_is_refused_and_says_so() {
    let certs = Certs::make();
    let logs = tempfile::tempdir().expect("log dir");
    let stack = Stack::start_on(secured_server(&certs), &[], Some(logs.path())).await;
    let (ok, text) = cli(
        &stack,
        &with_owned(&as_user(&certs, "operator")),
        &["nats-setup"],
    );
    assert!(ok, "operator set-up: {text}");

    // The writer with the fetcher's user: NATS accepts the login, then refuses the writer's
    // consumer.
    let mut writer = stack.spawn("jst2tplus-writer", &as_user(&certs, "fetcher"));
    let status = exit_of(&mut writer).await;
    assert_eq!(status.code(), Some(j2t_topology::REFUSED_EXIT_CODE));
    let log = std::fs::read_to_string(logs.path().join("jst2tplus-writer.log")).expect("log");
    assert!(
        log.contains("NATS refused a permission to user `fetcher`")
            && log.contains("Permissions Violation")
            && log.contains("J2T_VOUCHERS"),
        "{log}"
    );

    // A wrong password: refused at once, naming the user.
    let mut env = as_user(&certs, "writer");
    env.push(("J2T__NATS__PASSWORD", "wrong".to_string()));
    let mut writer = stack.spawn("jst2tplus-writer", &env);
    let status = exit_of(&mut writer).await;
    assert!(!status.success());
    let log = std::fs::read_to_string(logs.path().join("jst2tplus-writer.log")).expect("log");
    assert!(
        log.contains("refused user `writer`") && log.contains("authorization violation"),
        "{log}"
    );
}

async fn exit_of(service: &mut j2t_testkit::Service) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = service.exited() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} kept running",
            service.name
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn violations(server_log: &str) -> String {
    server_log
        .lines()
        .filter(|l| l.contains("Violation"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn service_logs(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(15).collect();
        text.push_str(&format!("== {}\n", entry.path().display()));
        for line in tail.into_iter().rev() {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}
