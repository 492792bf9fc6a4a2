//! Randomness shared by both simulated APIs: the seeded fault rolls (reproducible) and the
//! range check of every probability knob.

use rand::RngExt;
use rand::rngs::StdRng;

/// `true` with probability `p`. Always draws exactly one number, whatever `p`, so the sequence
/// of decisions for a given seed does not depend on which knobs are zero.
pub fn roll(rng: &mut StdRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Rejects a probability outside 0..=1 (NaN included), naming the knob.
pub fn check_probabilities(knobs: &[(&str, f64)]) -> Result<(), String> {
    match knobs.iter().find(|(_, p)| !(0.0..=1.0).contains(p)) {
        Some((name, p)) => Err(format!("{name} must be between 0 and 1, got {p}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use serde_json::json;

    use super::*;
    use crate::jst::JstFaults;
    use crate::tplus::TplusFaults;

    #[test]
    fn probabilities_outside_zero_to_one_are_rejected() {
        assert!(check_probabilities(&[("a", 0.0), ("b", 1.0)]).is_ok());
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            let error = check_probabilities(&[("a", 0.5), ("b", bad)]).expect_err("rejected");
            assert!(error.starts_with("b must be between 0 and 1"), "{error}");
        }
    }

    #[test]
    fn every_probability_knob_of_both_apis_is_checked() {
        let jst = |knobs| serde_json::from_value::<JstFaults>(knobs).map(|f| f.validate());
        let tplus = |knobs| serde_json::from_value::<TplusFaults>(knobs).map(|f| f.validate());
        for knob in [
            "throttle_probability",
            "http_5xx_probability",
            "drift_probability",
        ] {
            assert!(jst(json!({ knob: 1.0 })).expect("parses").is_ok(), "{knob}");
            assert!(
                jst(json!({ knob: 1.5 })).expect("parses").is_err(),
                "{knob}"
            );
        }
        for knob in [
            "http_5xx_probability",
            "throttle_409_probability",
            "timeout_after_commit_probability",
        ] {
            assert!(
                tplus(json!({ knob: 1.0 })).expect("parses").is_ok(),
                "{knob}"
            );
            assert!(
                tplus(json!({ knob: -0.1 })).expect("parses").is_err(),
                "{knob}"
            );
        }
    }

    #[test]
    fn rolls_are_certain_at_the_bounds_and_repeat_with_the_seed() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!((0..100).all(|_| roll(&mut rng, 1.0)));
        assert!((0..100).all(|_| !roll(&mut rng, 0.0)));
        let sequence = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..32).map(|_| roll(&mut rng, 0.5)).collect::<Vec<_>>()
        };
        assert_eq!(sequence(7), sequence(7));
        assert_ne!(sequence(7), sequence(8));
    }
}
