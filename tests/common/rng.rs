//! SplitMix64: seeded, platform-independent numbers for test networks and
//! points.

use ndarray::Array2;

/// A SplitMix64 stream.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next uniform in `[-1, 1)`.
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// An `r x c` matrix of uniforms in `[-1, 1)`, row by row.
    pub fn matrix(&mut self, r: usize, c: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((r, c), || self.next())
    }
}
