//! The embedded 8x8 digits (see `data/README.md`) and a deterministic split.

use ndarray::{Array2, Axis};

use super::Rng;

const DIGITS: &[u8] = include_bytes!("../../data/digits.bin");
const PIXELS: usize = 64;
const RECORD: usize = PIXELS + 1;

/// The 1797 digits: pixels scaled to `[0, 1]` (value / 16), one image per row,
/// and the labels 0..9.
pub fn digits() -> (Array2<f64>, Vec<usize>) {
    let n = DIGITS.len() / RECORD;
    let x = Array2::from_shape_fn((n, PIXELS), |(i, j)| DIGITS[i * RECORD + j] as f64 / 16.0);
    let y = (0..n).map(|i| DIGITS[i * RECORD + PIXELS] as usize).collect();
    (x, y)
}

/// A train/test split of a labelled data set.
#[derive(Clone, Debug)]
pub struct Split {
    /// Training inputs, one per row.
    pub train_x: Array2<f64>,
    /// Training labels.
    pub train_y: Vec<usize>,
    /// Test inputs, one per row.
    pub test_x: Array2<f64>,
    /// Test labels.
    pub test_y: Vec<usize>,
}

impl Split {
    /// A seeded random split with `n_test` test points; the rest is for training.
    pub fn new(x: &Array2<f64>, y: &[usize], n_test: usize, seed: u64) -> Split {
        let order = Rng::new(seed).permutation(x.nrows());
        let (test, train) = order.split_at(n_test.min(order.len()));
        Split {
            train_x: x.select(Axis(0), train),
            train_y: train.iter().map(|&i| y[i]).collect(),
            test_x: x.select(Axis(0), test),
            test_y: test.iter().map(|&i| y[i]).collect(),
        }
    }

    /// The digits split into 1297 training and 500 test images (seed 0).
    pub fn digits() -> Split {
        let (x, y) = digits();
        Split::new(&x, &y, 500, 0)
    }

    /// Keeps only the first `n` training points.
    pub fn truncate_train(mut self, n: usize) -> Split {
        let n = n.min(self.train_y.len());
        self.train_x = self.train_x.slice_move(ndarray::s![..n, ..]);
        self.train_y.truncate(n);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_have_the_documented_shape() {
        let (x, y) = digits();
        assert_eq!(x.dim(), (1797, 64));
        assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let mut counts = [0usize; 10];
        y.iter().for_each(|&label| counts[label] += 1);
        assert!(counts.iter().all(|&c| (170..=190).contains(&c)), "{counts:?}");
        let split = Split::digits();
        assert_eq!((split.train_y.len(), split.test_y.len()), (1297, 500));
    }
}
