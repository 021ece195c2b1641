//! The softmax of one position's logits with the logarithm of its
//! normaliser, computed without overflow: shared by the exact LES scores
//! ([`crate::scales`]) and the backends' LES Gram kernel.

use ndarray::{Array1, ArrayView1};

/// One position's softmax `p` and `log Z = log sum_v exp(l_v)`.
pub(crate) struct Softmax {
    pub(crate) p: Array1<f64>,
    pub(crate) log_z: f64,
}

/// Below this, `exp` rounds to 0 in `f64` (`e^-746` is under half the
/// smallest subnormal).
const EXP_UNDERFLOW: f64 = -746.0;

/// `e^x`, skipping the library's slow underflow path where the result is 0
/// anyway (peaked softmaxes have many such symbols).
fn exp_or_zero(x: f64) -> f64 {
    if x < EXP_UNDERFLOW {
        0.0
    } else {
        x.exp()
    }
}

impl Softmax {
    /// Log-sum-exp: shifting by the largest logit keeps `exp` in range.
    pub(crate) fn of(logits: ArrayView1<f64>) -> Softmax {
        let top = logits.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let shifted = logits.mapv(|v| exp_or_zero(v - top));
        let sum = shifted.sum();
        Softmax {
            p: shifted / sum,
            log_z: top + sum.ln(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn exp_or_zero_equals_exp() {
        for x in [
            -1e6_f64, -800.0, -746.5, -746.0, -745.5, -745.0, -700.0, -1.0, 0.0,
        ] {
            assert_eq!(exp_or_zero(x), x.exp(), "{x}");
        }
    }

    #[test]
    fn huge_logits_neither_overflow_nor_lose_the_normaliser() {
        let s = Softmax::of(array![1000.0, 1000.0].view());
        assert_eq!(s.p, array![0.5, 0.5]);
        assert!((s.log_z - (1000.0 + 2f64.ln())).abs() < 1e-12);
        let t = Softmax::of(array![0.0, -2000.0].view());
        assert_eq!(t.p, array![1.0, 0.0]);
        assert_eq!(t.log_z, 0.0);
    }
}
