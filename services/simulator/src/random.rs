//! Randomness shared by both simulated APIs: the seeded fault rolls (reproducible) and an
//! unseeded source for tokens (different every run).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

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

/// std seeds every `RandomState` from the OS; hashing nothing with one yields a random
/// number without the OS-rng feature of `rand`.
pub fn unpredictable_seed() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

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
