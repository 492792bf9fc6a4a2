use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A binary of this workspace, next to the running test or program (`target/<profile>/`),
/// else the debug build (benchmarks run from `target/release/` but are rate-limit bound).
/// Build them first: `cargo build --bins`.
pub fn workspace_bin(name: &str) -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut candidates = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .collect::<Vec<_>>();
    if let Some(target) = exe.ancestors().nth(3) {
        candidates.push(target.join("debug").join(name));
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "binary `{name}` not found next to {exe:?}; run `cargo build --bins` first"
                ),
            )
        })
}

/// A child process that is killed (SIGKILL) when dropped.
pub struct Service {
    pub name: String,
    child: Child,
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
        let mut command = Command::new(workspace_bin(bin)?);
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
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
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
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
