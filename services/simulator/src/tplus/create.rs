//! `POST /tplus/api/v2/otherDispatch/Create`, as documented in `docs/tplus-api.md`. Checks in
//! order: latency → outage (503) → appKey/appSecret/openToken (401, 50000) → quota (401,
//! 50112) → injected 503 → injected 409 → injected HTML 200 → body and dto (400, 999) →
//! closed period (400, 999 "已结账", or the reply set) → master data (400, 999) → duplicate
//! ExternalCode (400, 999 "已存在", or the reply set) → store. Success is HTTP 200 with body `null`. Under the
//! timeout-after-commit fault the voucher is stored and the answer held back, so a client
//! that gives up first saw a timeout for a voucher that exists.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use super::TplusState;
use super::admission::{self, Refusal};
use super::dto;
use crate::random::roll;
use crate::state::{Api, Store};

pub fn routes() -> Router<Store> {
    Router::new().route(j2t_tplus::OTHER_DISPATCH_CREATE_PATH, post(create))
}

/// The body is taken as bytes so that even a non-UTF-8 body gets T+'s answers (auth first).
async fn create(State(store): State<Store>, headers: HeaderMap, body: Bytes) -> Response {
    store.count_request(Api::Tplus);
    admission::delay(&store).await;
    let (outcome, hold) = match answer(&store, &headers, &body) {
        Ok(hold) => (Ok(Value::Null), hold),
        Err(refusal) => (Err(refusal), None),
    };
    // Counted before the answer is held back: a client that gives up closes the connection,
    // and the server then drops this handler mid-sleep.
    let response = admission::finish(&store, outcome);
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    response
}

/// `Ok` holds how long to hold the success answer back (timeout after commit), if at all.
fn answer(store: &Store, headers: &HeaderMap, body: &[u8]) -> Result<Option<Duration>, Refusal> {
    let outage = store.with(|d| {
        let faults = &d.tplus.faults;
        faults.outage.then_some(Refusal::Unavailable {
            retry_after: faults.retry_after_secs,
        })
    });
    if let Some(refusal) = outage {
        return Err(refusal);
    }
    admission::check_app(store, headers)?;
    admission::check_open_token(store, headers)?;
    let hold = store.with(|d| inject_faults(&mut d.tplus))?;
    let negative = store.with(|d| d.tplus.faults.negative_quantities);
    let dto = dto::parse_with(body, negative).map_err(Refusal::rejected)?;
    let code = dto::external_code(&dto).to_string();
    // One lock for master data, duplicate check and insert: an admin change or a concurrent
    // resubmission cannot slip in between.
    store.with(|d| {
        let replies = &d.tplus.replies;
        if let Some(refusal) = replies
            .closed
            .as_ref()
            .and_then(|closed| closed.refusal(dto::voucher_date(&dto)))
        {
            return Err(refusal);
        }
        d.tplus.master.check(&dto).map_err(Refusal::rejected)?;
        let duplicate = d.tplus.replies.duplicate.clone();
        if !d.insert_voucher(&code, dto) {
            return Err(match duplicate {
                Some(reply) => reply.refusal(),
                None => Refusal::rejected(format!("外部单据号[{code}]已存在")),
            });
        }
        if hold.is_some() {
            d.tplus.committed_late += 1;
        }
        Ok(hold)
    })
}

/// For calls that passed authentication: the exhausted quota, then the injected faults. The
/// three original rolls are drawn on every call (the HTML roll only when its knob is set), so
/// the fault sequence for a seed does not depend on which knobs are zero or on what the
/// bodies contain. `Ok` holds the timeout-after-commit
/// delay when that fault fired (it only applies if the voucher is then stored).
fn inject_faults(tplus: &mut TplusState) -> Result<Option<Duration>, Refusal> {
    let faults = &tplus.faults;
    if faults.quota_exhausted {
        return Err(Refusal::unauthorized("50112", "调用次数已用完"));
    }
    let unavailable = roll(&mut tplus.rng, faults.http_5xx_probability);
    let throttled = roll(&mut tplus.rng, faults.throttle_409_probability);
    let late = roll(&mut tplus.rng, faults.timeout_after_commit_probability);
    // Drawn only when set, so existing seeds keep their fault sequences.
    let html =
        faults.html_200_probability > 0.0 && roll(&mut tplus.rng, faults.html_200_probability);
    if unavailable {
        Err(Refusal::Unavailable {
            retry_after: faults.retry_after_secs,
        })
    } else if throttled {
        Err(Refusal::Throttled)
    } else if html {
        Err(Refusal::MaintenancePage)
    } else {
        Ok(late.then(|| faults.commit_delay()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tplus::TplusFaults;

    fn state(faults: TplusFaults) -> TplusState {
        let mut state = TplusState::new("t".into(), "r".into());
        state.set_faults(faults);
        state
    }

    #[test]
    fn quota_comes_before_the_injected_faults_and_503_before_409() {
        let mut tplus = state(TplusFaults {
            quota_exhausted: true,
            http_5xx_probability: 1.0,
            ..Default::default()
        });
        assert!(matches!(
            inject_faults(&mut tplus),
            Err(Refusal::Api { code: "50112", .. })
        ));
        let mut tplus = state(TplusFaults {
            http_5xx_probability: 1.0,
            throttle_409_probability: 1.0,
            ..Default::default()
        });
        assert!(matches!(
            inject_faults(&mut tplus),
            Err(Refusal::Unavailable { .. })
        ));
        let mut tplus = state(TplusFaults {
            throttle_409_probability: 1.0,
            ..Default::default()
        });
        assert!(matches!(inject_faults(&mut tplus), Err(Refusal::Throttled)));
    }

    #[test]
    fn html_pages_come_after_503_and_409_and_503_carries_retry_after() {
        let mut tplus = state(TplusFaults {
            html_200_probability: 1.0,
            ..Default::default()
        });
        assert!(matches!(
            inject_faults(&mut tplus),
            Err(Refusal::MaintenancePage)
        ));
        let mut tplus = state(TplusFaults {
            html_200_probability: 1.0,
            http_5xx_probability: 1.0,
            retry_after_secs: Some(7),
            ..Default::default()
        });
        assert!(matches!(
            inject_faults(&mut tplus),
            Err(Refusal::Unavailable {
                retry_after: Some(7)
            })
        ));
    }

    #[test]
    fn timeout_after_commit_yields_the_configured_hold() {
        let mut tplus = state(TplusFaults {
            timeout_after_commit_probability: 1.0,
            timeout_after_commit_ms: 250,
            ..Default::default()
        });
        assert_eq!(
            inject_faults(&mut tplus).expect("no refusal"),
            Some(Duration::from_millis(250))
        );
        let mut tplus = state(TplusFaults::default());
        assert_eq!(inject_faults(&mut tplus).expect("no refusal"), None);
    }

    #[test]
    fn the_fault_sequence_repeats_with_the_seed() {
        let run = |seed| {
            let mut tplus = state(TplusFaults {
                http_5xx_probability: 0.3,
                throttle_409_probability: 0.3,
                seed,
                ..Default::default()
            });
            (0..40)
                .map(|_| match inject_faults(&mut tplus) {
                    Ok(_) => 'o',
                    Err(Refusal::Unavailable { .. }) => '5',
                    Err(_) => '4',
                })
                .collect::<String>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        assert!(run(5).contains('o') && run(5).contains('5') && run(5).contains('4'));
    }
}
