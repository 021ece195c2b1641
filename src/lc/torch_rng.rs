//! PyTorch's CPU random generator, as far as the reference directions need it.
//!
//! `torch.manual_seed(seed)` seeds a 32-bit Mersenne Twister (MT19937,
//! `init_genrand`) with the low 32 bits of the seed. A float64 `uniform_(from, to)`
//! draws 64 bits from two consecutive outputs, the first in the high half, keeps
//! the low 53 bits as `u = bits * 2^-53` and returns `u * (to - from) + from`.
//! `nn.Linear(in, out)` fills its `out x in` weight first, row by row, with
//! `kaiming_uniform_(a = sqrt(5))`, a uniform draw on `[-bound, bound]` with
//! `bound = sqrt(3) * sqrt(2 / (1 + a^2)) / sqrt(in)`, which is `1 / sqrt(in)`
//! up to rounding.

use ndarray::Array2;

const STATE_WORDS: usize = 624;
const SHIFT_WORDS: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The 32-bit Mersenne Twister of Matsumoto and Nishimura (1998).
pub(super) struct Mt19937 {
    state: [u32; STATE_WORDS],
    next: usize,
}

impl Mt19937 {
    /// A generator seeded by `init_genrand(seed)`.
    pub(super) fn new(seed: u32) -> Self {
        let mut state = [0u32; STATE_WORDS];
        state[0] = seed;
        for i in 1..STATE_WORDS {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 {
            state,
            next: STATE_WORDS,
        }
    }

    /// The next tempered 32-bit output.
    pub(super) fn next_u32(&mut self) -> u32 {
        if self.next >= STATE_WORDS {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..STATE_WORDS {
            let y = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % STATE_WORDS] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.state[i] = self.state[(i + SHIFT_WORDS) % STATE_WORDS] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }

    /// PyTorch's `random64()`: two outputs, the first one in the high half.
    fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        let low = u64::from(self.next_u32());
        (high << 32) | low
    }

    /// One float64 draw of `uniform_(from, to)`.
    pub(super) fn uniform_f64(&mut self, from: f64, to: f64) -> f64 {
        const MANTISSA_MASK: u64 = (1 << f64::MANTISSA_DIGITS) - 1;
        let unit = (self.next_u64() & MANTISSA_MASK) as f64 * (-(f64::MANTISSA_DIGITS as f64)).exp2();
        unit * (to - from) + from
    }
}

/// The float64 weight (`rows x cols`, PyTorch's `out x in`) that
/// `torch.manual_seed(seed); nn.Linear(cols, rows)` initialises.
pub(super) fn linear_weight(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let bound = kaiming_uniform_bound(cols);
    // PyTorch keeps only the low 32 bits of the seed.
    let mut rng = Mt19937::new(seed as u32);
    Array2::from_shape_simple_fn((rows, cols), || rng.uniform_f64(-bound, bound))
}

/// `kaiming_uniform_(a = sqrt(5))`'s bound for `fan_in` inputs, evaluated in
/// PyTorch's order of operations.
fn kaiming_uniform_bound(fan_in: usize) -> f64 {
    let a = 5f64.sqrt();
    let gain = (2.0 / (1.0 + a * a)).sqrt();
    let std = gain / (fan_in as f64).sqrt();
    3f64.sqrt() * std
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_published_outputs() {
        // First output for the reference seed 5489, and the 10000th output that
        // the C++ standard requires of std::mt19937 ([rand.predef]).
        let mut rng = Mt19937::new(5489);
        assert_eq!(rng.next_u32(), 3_499_211_612);
        let mut rng = Mt19937::new(5489);
        let tenth_thousand = (0..10_000).map(|_| rng.next_u32()).last();
        assert_eq!(tenth_thousand, Some(4_123_659_995));
    }

    #[test]
    fn uniform_draws_stay_in_range_and_use_53_bits() {
        let mut rng = Mt19937::new(7);
        for _ in 0..1000 {
            let v = rng.uniform_f64(-0.25, 0.25);
            assert!((-0.25..0.25).contains(&v));
        }
        // The draw is the 53 low bits of (first << 32 | second), scaled.
        let mut raw = Mt19937::new(11);
        let (a, b) = (u64::from(raw.next_u32()), u64::from(raw.next_u32()));
        let expected = (((a << 32) | b) & ((1u64 << 53) - 1)) as f64 / 9_007_199_254_740_992.0;
        assert_eq!(Mt19937::new(11).uniform_f64(0.0, 1.0), expected);
    }

    #[test]
    fn kaiming_bound_is_one_over_sqrt_fan_in() {
        for fan_in in [1usize, 2, 10, 784] {
            let bound = kaiming_uniform_bound(fan_in);
            assert!((bound - 1.0 / (fan_in as f64).sqrt()).abs() < 1e-15);
        }
    }
}
