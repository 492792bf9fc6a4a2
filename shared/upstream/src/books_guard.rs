//! No accidental writes into real books: the simulator marks every answer, the services
//! ask each API whether it is the simulator before they start, and a setup mixing the
//! simulator with a real API (simulated orders into real books, or real orders into a
//! simulated T+), or the simulator's demo credentials sent to a real host, is refused.

use std::time::Duration;

use url::Url;

/// Header the simulator puts on every answer (both ports).
pub const SIMULATOR_HEADER: &str = "x-j2t-simulator";
/// Its value.
pub const SIMULATOR_MARK: &str = "jst2tplus";
/// Path the services ask (`GET`, no credentials) to learn what an API is.
pub const SIMULATOR_MARKER_PATH: &str = "/__j2t/simulator";

/// The simulator's demo app keys (config/default.toml): real apps never have them.
pub const DEMO_JST_APP_KEY: &str = "demo-jst-app-key";
pub const DEMO_TPLUS_APP_KEY: &str = "demo-tplus-app-key";

/// What one API's base URL turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Simulator,
    /// It answered without the simulator's mark.
    Real,
    /// It did not answer (down, or not reachable yet).
    Unknown,
}

/// One API as configured and probed.
#[derive(Debug, Clone)]
pub struct Side {
    /// `JST` or `T+`.
    pub api: &'static str,
    pub base_url: Url,
    pub kind: Kind,
    /// The app key is the simulator's demo key.
    pub demo_credentials: bool,
}

/// Why the configuration must not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "mixed setup refused: {sim_api} is the simulator ({sim_url}) but {real_api} is a real \
         host ({real_url}); simulated and real data must never meet in one run. Point both \
         base URLs at the simulator (demo) or both at the real APIs"
    )]
    Mixed {
        sim_api: &'static str,
        sim_url: String,
        real_api: &'static str,
        real_url: String,
    },
    #[error(
        "{api} is configured with the simulator's demo credentials but {url} is not the \
         simulator; configure the real app's credentials (see .env.example)"
    )]
    DemoCredentials { api: &'static str, url: String },
}

/// The decision, from what was probed. An API that did not answer beside one that is the
/// simulator counts as real (it cannot be shown to be the simulator); two that did not
/// answer pass (a real deployment whose APIs are down must still start and retry), demo
/// keys or not.
pub fn check(jst: &Side, tplus: &Side) -> Result<(), Refusal> {
    for side in [jst, tplus] {
        // A silent host with the demo keys passes: it cannot be called while silent, and a
        // real API that comes back refuses the demo keys anyway.
        if side.demo_credentials && side.kind == Kind::Real {
            return Err(Refusal::DemoCredentials {
                api: side.api,
                url: side.base_url.to_string(),
            });
        }
    }
    for (sim, other) in [(jst, tplus), (tplus, jst)] {
        if sim.kind == Kind::Simulator && other.kind != Kind::Simulator {
            return Err(Refusal::Mixed {
                sim_api: sim.api,
                sim_url: sim.base_url.to_string(),
                real_api: other.api,
                real_url: other.base_url.to_string(),
            });
        }
    }
    Ok(())
}

/// Asks `base_url` whether it is the simulator: any answer carrying the mark is; any other
/// answer is not. No credentials are sent, and no redirect is followed.
pub async fn probe(http: &reqwest::Client, base_url: &Url) -> Kind {
    let Ok(url) = base_url.join(SIMULATOR_MARKER_PATH) else {
        return Kind::Unknown;
    };
    match http.get(url).send().await {
        Ok(response) => {
            let marked = response
                .headers()
                .get(SIMULATOR_HEADER)
                .is_some_and(|v| v.as_bytes() == SIMULATOR_MARK.as_bytes());
            if marked { Kind::Simulator } else { Kind::Real }
        }
        Err(_) => Kind::Unknown,
    }
}

/// Probes until the API answers or `tries` are used up (a simulator still starting).
pub async fn probe_patiently(http: &reqwest::Client, base_url: &Url, tries: u32) -> Kind {
    for attempt in 0..tries.max(1) {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt.min(4)))).await;
        }
        let kind = probe(http, base_url).await;
        if kind != Kind::Unknown {
            return kind;
        }
    }
    Kind::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(api: &'static str, kind: Kind, demo: bool) -> Side {
        Side {
            api,
            base_url: Url::parse("http://h.example/").expect("url"),
            kind,
            demo_credentials: demo,
        }
    }

    #[test]
    fn only_all_simulator_or_all_real_setups_pass() {
        use Kind::*;
        // (jst kind, jst demo creds, tplus kind, tplus demo creds, expected)
        let cases = [
            (Simulator, true, Simulator, true, "ok"),
            (Simulator, false, Simulator, false, "ok"),
            (Real, false, Real, false, "ok"),
            (Unknown, false, Unknown, false, "ok"),
            (Real, false, Unknown, false, "ok"),
            (Simulator, true, Real, false, "mixed"),
            (Real, false, Simulator, true, "mixed"),
            (Simulator, false, Unknown, false, "mixed"),
            (Real, true, Real, false, "demo"),
            (Real, false, Real, true, "demo"),
            (Unknown, true, Unknown, true, "ok"),
            (Simulator, true, Real, true, "demo"),
        ];
        for (jk, jd, tk, td, expected) in cases {
            let got = match check(&side("JST", jk, jd), &side("T+", tk, td)) {
                Ok(()) => "ok",
                Err(Refusal::Mixed { .. }) => "mixed",
                Err(Refusal::DemoCredentials { .. }) => "demo",
            };
            assert_eq!(got, expected, "{jk:?}/{jd} {tk:?}/{td}");
        }
    }

    #[test]
    fn the_refusal_says_which_api_is_which() {
        let err = check(
            &side("JST", Kind::Simulator, true),
            &side("T+", Kind::Real, false),
        )
        .expect_err("mixed");
        let text = err.to_string();
        assert!(text.contains("JST is the simulator"), "{text}");
        assert!(text.contains("T+ is a real host"), "{text}");
    }
}
