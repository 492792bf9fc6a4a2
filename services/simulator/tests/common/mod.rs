//! Shared by the JST and T+ test binaries: the simulator in-process on free ports, with the
//! default configuration, stopped when dropped.

use std::collections::HashMap;

use j2t_config::Config;
use tokio_util::sync::CancellationToken;

pub struct InProcess {
    pub cfg: Config,
    pub running: j2t_simulator::Running,
    shutdown: CancellationToken,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn start() -> InProcess {
    let env = HashMap::from([
        ("J2T__SIMULATOR__JST_LISTEN".into(), "127.0.0.1:0".into()),
        ("J2T__SIMULATOR__TPLUS_LISTEN".into(), "127.0.0.1:0".into()),
    ]);
    let cfg = Config::load_with_env(None, Some(env)).expect("config");
    let shutdown = CancellationToken::new();
    let running = j2t_simulator::start(&cfg, shutdown.clone())
        .await
        .expect("simulator starts");
    InProcess {
        cfg,
        running,
        shutdown,
    }
}
