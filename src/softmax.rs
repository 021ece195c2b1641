//! The softmax of one position's logits with the logarithm of its
//! normaliser, computed without overflow: shared by the exact LES scores
//! ([`crate::scales`]) and the backends' LES Gram kernel.

use ndarray::{Array1, ArrayView1};

/// One position's softmax `p` and `log Z = log sum_v exp(l_v)`.
pub(crate) struct Softmax {
    pub(crate) p: Array1<f64>,
    pub(crate) log_z: f64,
    /// The symbol of the largest logit (the first of equals).
    top: usize,
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
        let (top, largest) =
            logits.iter().enumerate().fold(
                (0, f64::NEG_INFINITY),
                |(k, m), (v, &l)| if l > m { (v, l) } else { (k, m) },
            );
        let shifted = logits.mapv(|v| exp_or_zero(v - largest));
        let sum = shifted.sum();
        Softmax {
            p: shifted / sum,
            log_z: largest + sum.ln(),
            top,
        }
    }

    /// One latent coordinate's rows of `(diag(p) - p p^T) a` for the
    /// position's Jacobian column `a` (one value per symbol): calls
    /// `row(v, p_v (a_v - s))` for every symbol and returns `s = p . a`.
    ///
    /// `a_v - s` is summed around the top symbol `k` as
    /// `(a_v - a_k) + sum_{u != k} p_u (a_k - a_u)`: when `p_k` is within
    /// rounding of 1, `a_k - s` is of the size of `1 - p_k`, which the plain
    /// difference `a_k - s` loses (LES off by up to `ln 3 / 2` per position
    /// once a logit spread exceeds about 37).
    pub(crate) fn centred(&self, a: ArrayView1<f64>, mut row: impl FnMut(usize, f64)) -> f64 {
        let a_top = a[self.top];
        let spread: f64 = (self.p.iter().zip(a).enumerate())
            .filter(|&(u, _)| u != self.top)
            .map(|(_, (p, a_u))| p * (a_top - a_u))
            .sum();
        for (v, (p, a_v)) in self.p.iter().zip(a).enumerate() {
            row(v, p * ((a_v - a_top) + spread));
        }
        a_top - spread
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

    #[test]
    fn centred_rows_keep_one_minus_the_top_probability() {
        // Logits (40, 0): p = (sigma, 1 - sigma) with 1 - sigma = e^-40 / (1 + e^-40)
        // and sigma = 1 in f64. With a = (1, 0) the rows are (s, -s),
        // s = sigma (1 - sigma), and p . a = sigma.
        let soft = Softmax::of(array![40.0, 0.0].view());
        let small = (-40f64).exp() / (1.0 + (-40f64).exp());
        let mut rows = vec![0.0; 2];
        let mean = soft.centred(array![1.0, 0.0].view(), |v, r| rows[v] = r);
        assert!((rows[0] - small).abs() <= 1e-15 * small, "{rows:?}");
        assert!((rows[1] + small).abs() <= 1e-15 * small, "{rows:?}");
        assert_eq!(mean, 1.0);
        // The top symbol need not come first.
        let flipped = Softmax::of(array![0.0, 40.0].view());
        flipped.centred(array![0.0, 1.0].view(), |v, r| rows[v] = r);
        assert!((rows[1] - small).abs() <= 1e-15 * small && (rows[0] + small).abs() <= 1e-15 * small);
    }
}
