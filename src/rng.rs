//! The crate's seeded generator: SplitMix64 (Steele, Lea and Flood, "Fast
//! splittable pseudorandom number generators", OOPSLA 2014), the same stream
//! on every machine and with no random-number crate, for the seeded
//! directions ([`crate::lc::Directions::Seeded`]), the shard planner's
//! samples and the conformance kit's inputs.

/// `2^-53`: one step between consecutive 53-bit uniforms.
const UNIT_STEP: f64 = 1.0 / (1u64 << f64::MANTISSA_DIGITS) as f64;

/// A SplitMix64 stream; the tuple field is its state, the seed at first.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw on `[0, 1)` with 53 random bits: `k 2^-53` for the top
    /// 53 bits `k` of the next output.
    pub(crate) fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * UNIT_STEP
    }

    /// A uniform draw on `(0, 1]` with 53 random bits (never 0, so its log is
    /// finite): `(k + 1) 2^-53`, one step above [`Self::next_unit`]. The sum
    /// is exact: both terms are multiples of `2^-53` and it is at most 1.
    pub(crate) fn next_open_unit(&mut self) -> f64 {
        self.next_unit() + UNIT_STEP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs for seed 0, as the reference C implementation
    /// (`splitmix64.c` by Sebastiano Vigna) prints them.
    #[test]
    fn stream_matches_the_reference_outputs() {
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn open_unit_is_one_step_above_the_unit_draw() {
        let (mut closed, mut open) = (SplitMix64(7), SplitMix64(7));
        for _ in 0..1000 {
            let (u, v) = (closed.next_unit(), open.next_open_unit());
            assert!((0.0..1.0).contains(&u) && v > 0.0 && v <= 1.0);
            assert_eq!(v - u, UNIT_STEP);
        }
    }
}
