use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The environment variable that fixes the seed of a test's random choices (kill points...).
pub const TEST_SEED_ENV: &str = "J2T_TEST_SEED";

/// The seed for `test`'s random choices: `$J2T_TEST_SEED` when set, to replay a failure,
/// else fresh from the operating system. Printed either way, so a failing run's output says
/// how to replay it. Panics if the variable is set but not a number.
pub fn test_seed(test: &str) -> u64 {
    let seed = match std::env::var(TEST_SEED_ENV) {
        Ok(text) if !text.trim().is_empty() => text.trim().parse().unwrap_or_else(|_| {
            panic!("{TEST_SEED_ENV}={text:?} is not a seed: use a number below 2^64")
        }),
        _ => rand::make_rng::<StdRng>().next_u64(),
    };
    println!("{test}: random seed {seed}; replay with {TEST_SEED_ENV}={seed}");
    seed
}

/// A generator for `test`'s random choices, seeded by [`test_seed`].
pub fn seeded_rng(test: &str) -> StdRng {
    StdRng::seed_from_u64(test_seed(test))
}
