//! The start-up check every service and API-calling command runs: refuse a setup that
//! mixes the simulator with a real API, or sends the demo credentials to a real host
//! (see `j2t_upstream::books_guard`).

use std::time::Duration;

use j2t_config::Config;
use j2t_upstream::books_guard::{
    self, DEMO_JST_APP_KEY, DEMO_TPLUS_APP_KEY, Kind, Refusal, Side, probe, probe_patiently,
};

/// Tries at most for an API that does not answer beside one that is the simulator (it may
/// still be starting): about 20 seconds.
const PATIENT_TRIES: u32 = 12;

/// Asks both APIs what they are and decides (see [`books_guard::check`]).
pub async fn refuse_mixed_setup(cfg: &Config) -> Result<(), Refusal> {
    let Ok(http) = j2t_upstream::api_http_client(Duration::from_secs(5)) else {
        // No HTTP client means no API call either: nothing to guard.
        return Ok(());
    };
    let (jst_url, tplus_url) = (&cfg.jst.base_url, &cfg.tplus.base_url);
    let (mut jst, mut tplus) = tokio::join!(probe(&http, jst_url), probe(&http, tplus_url));
    // One is the simulator and the other silent: give the other time to show what it is.
    if jst == Kind::Simulator && tplus == Kind::Unknown {
        tplus = probe_patiently(&http, tplus_url, PATIENT_TRIES).await;
    } else if tplus == Kind::Simulator && jst == Kind::Unknown {
        jst = probe_patiently(&http, jst_url, PATIENT_TRIES).await;
    }
    let jst = Side {
        api: "JST",
        base_url: jst_url.clone(),
        kind: jst,
        demo_credentials: cfg.jst.app_key == DEMO_JST_APP_KEY,
    };
    let tplus = Side {
        api: "T+",
        base_url: tplus_url.clone(),
        kind: tplus,
        demo_credentials: cfg.tplus.app_key == DEMO_TPLUS_APP_KEY,
    };
    tracing::info!(jst = ?jst.kind, tplus = ?tplus.kind, "what the APIs are");
    books_guard::check(&jst, &tplus)
}
