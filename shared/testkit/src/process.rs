use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable a service reads to learn where to report its bound addresses
/// (`j2t_runtime::LISTEN_FILE_ENV`): one line `<what> <addr>` per listener.
const LISTEN_FILE_ENV: &str = "J2T_LISTEN_FILE";

/// How long a service may take to bind its listeners after it was started.
const LISTEN_LIMIT: Duration = Duration::from_secs(60);

/// A binary of this workspace, built fresh: the first call in a process runs
/// `cargo build --bins` for the profile and target directory the running test was built in
/// (a no-op when nothing changed), so a test never runs a stale binary. Set
/// `J2T_TEST_SKIP_BUILD=1` to use the binaries as they are (e.g. without cargo).
pub fn workspace_bin(name: &str) -> io::Result<PathBuf> {
    let dir = built_bins_dir()?;
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "binary `{name}` not found in {}; run `cargo build --bins`",
                dir.display()
            ),
        ))
    }
}

/// The directory holding the workspace's binaries for the running executable's profile
/// (`target/<profile>/`), after building them once per process.
fn built_bins_dir() -> io::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_bins().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn build_bins() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // Tests and benchmarks run from `target/<profile>/deps/`, binaries from `target/<profile>/`.
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    if std::env::var_os("J2T_TEST_SKIP_BUILD").is_some_and(|v| !v.is_empty() && v != "0") {
        return Ok(dir);
    }
    let (Some(profile), Some(target_dir)) = (
        dir.file_name().and_then(|n| n.to_str()),
        dir.parent().map(Path::to_path_buf),
    ) else {
        return Err(io::Error::other(format!(
            "cannot tell the target directory from {}; run `cargo build --bins` and set \
             J2T_TEST_SKIP_BUILD=1",
            exe.display()
        )));
    };
    let profile = if profile == "debug" { "dev" } else { profile };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--bins", "--profile", profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .stdin(Stdio::null());
    without_test_env(&mut command, &target_dir);
    let output = command.output().map_err(|e| {
        io::Error::other(format!(
            "cannot run {} to build the binaries under test ({e}); run `cargo build \
                 --bins` and set J2T_TEST_SKIP_BUILD=1",
            Path::new(&cargo).display()
        ))
    })?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "`cargo build --bins --profile {profile}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    eprintln!(
        "binaries under test built fresh (`cargo build --bins --profile {profile}`, {:.1?})",
        started.elapsed()
    );
    Ok(dir)
}

/// Removes what `cargo test` added to the test's environment, so the build sees the
/// environment a plain `cargo build --bins` would: build scripts that track a variable (ring
/// tracks `CARGO_MANIFEST_DIR`) would otherwise rebuild, and the next `cargo test` again.
fn without_test_env(command: &mut Command, target_dir: &Path) {
    const SET_BY_CARGO_TEST: [&str; 7] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    for (key, _) in std::env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        if SET_BY_CARGO_TEST.contains(&name)
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(&key);
        }
    }
    // Cargo prepends the target directory's library folders to the loader path.
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        let kept: Vec<PathBuf> = std::env::split_paths(&paths)
            .filter(|p| !p.starts_with(target_dir))
            .collect();
        match std::env::join_paths(kept) {
            Ok(joined) if !joined.is_empty() => command.env("LD_LIBRARY_PATH", joined),
            _ => command.env_remove("LD_LIBRARY_PATH"),
        };
    }
}

/// A child process that is killed (SIGKILL) when dropped.
pub struct Service {
    pub name: String,
    child: Child,
    /// Holds the file the service reports its bound addresses to.
    listen_dir: tempfile::TempDir,
}

impl Service {
    /// Starts a workspace binary with extra environment variables; output is inherited so
    /// test logs show it.
    pub fn spawn(bin: &str, env: &[(String, String)]) -> io::Result<Self> {
        Self::spawn_with_log(bin, env, None)
    }

    /// Like [`Service::spawn`]; with `log`, stdout and stderr are appended to that file
    /// instead (for tests that read what a service logged).
    pub fn spawn_with_log(
        bin: &str,
        env: &[(String, String)],
        log: Option<&std::path::Path>,
    ) -> io::Result<Self> {
        let listen_dir = tempfile::tempdir()?;
        let mut command = Command::new(workspace_bin(bin)?);
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(LISTEN_FILE_ENV, listen_dir.path().join("listen"))
            .stdin(Stdio::null());
        if let Some(path) = log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        Ok(Self {
            name: bin.to_string(),
            child: command.spawn()?,
            listen_dir,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The address the service bound for `what` (`admin`, `console`, `jst`, `tplus`), as the
    /// service reported it: give it port 0 and read the port back here. Waits for the
    /// report; fails if the process exits first or takes longer than a minute.
    pub async fn listening(&mut self, what: &str) -> io::Result<SocketAddr> {
        let file = self.listen_dir.path().join("listen");
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // Only whole lines: a line is written with one append.
            let found = text.split_inclusive('\n').find_map(|line| {
                let (name, addr) = line.strip_suffix('\n')?.split_once(' ')?;
                (name == what).then(|| addr.parse::<SocketAddr>().ok())?
            });
            if let Some(addr) = found {
                return Ok(addr);
            }
            if let Some(status) = self.exited() {
                return Err(io::Error::other(format!(
                    "{} exited ({status}) before reporting its {what} address",
                    self.name
                )));
            }
            if started.elapsed() > LISTEN_LIMIT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} did not report its {what} address within {LISTEN_LIMIT:?} \
                         (reported: {text:?})",
                        self.name
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
