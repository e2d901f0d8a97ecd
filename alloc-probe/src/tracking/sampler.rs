//! The sampler of `sampled` mode: a Poisson process over allocated bytes, as Go's heap
//! profile samples. Each thread counts down the bytes to its next sample (the countdown sits
//! in its tally, on the line every event touches); a block that takes the countdown past zero
//! is sampled, and weighs the inverse of the probability that a block of its size is, so that
//! sums of weights are unbiased estimates (Horvitz-Thompson).

use super::points::UNIT_SAMPLED;
use crate::sys::settings;

/// A thread's random numbers, for the gaps between samples.
#[derive(Default)]
pub(crate) struct Sampler {
    rng: u64,
}

impl Sampler {
    /// Starts the numbers from `seed`.
    pub(crate) fn seed(&mut self, seed: u64) {
        self.rng = seed | 1;
    }

    /// A fresh gap in bytes to the next sample: exponential with mean the sample rate, so the
    /// samples form a Poisson process over allocated bytes. Memoryless: each gap starts afresh.
    pub(crate) fn gap(&mut self) -> i64 {
        (-(settings::sample_rate() as f64) * self.uniform().ln()) as i64
    }

    /// A uniform random number in (0, 1].
    fn uniform(&mut self) -> f64 {
        // xorshift64*: fast, and plenty for choosing sample points.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((r >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// Counts a block of `size` bytes down; whether it is sampled (then the caller starts a new
/// gap, and takes its [`weight`]).
#[inline(always)]
pub(crate) fn due(countdown: &mut i64, size: usize) -> bool {
    *countdown -= size as i64;
    *countdown < 0
}

/// The weight of a sampled block of `size` bytes: `1 / P(sampled)`, in units of
/// [`UNIT_SAMPLED`].
pub(crate) fn weight(size: usize) -> u64 {
    let rate = settings::sample_rate() as f64;
    let p = -(-(size as f64) / rate).exp_m1();
    ((UNIT_SAMPLED as f64) / p).round() as u64
}
