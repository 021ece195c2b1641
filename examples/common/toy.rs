//! A toy "language" for decoder examples, and a decoder trained on it.
//!
//! Sentences have `seq_len` symbols out of `vocab`; a sentence is
//! grammatical when every step from one symbol to the next is `+1` or `+2`
//! (mod `vocab`). Latent codes `z ~ N(0, I_d)` are mapped to sentences by a
//! fixed rule: the first symbol comes from the direction of `(z_1, z_2)` (one
//! sector of the circle per symbol), step `k` is `+2` when `w_k . z > 0` for a
//! fixed random `w_k`, else `+1`. A decoder trained on such pairs is a CPWL map
//! from latents to `seq_len x vocab` logits whose data distribution is the
//! standard normal.

use ndarray::{Array1, Array2, ArrayView1};

use super::mlp::{argmax, Activation, Adam, Loss, Mlp, TrainOptions};
use super::Rng;

/// The grammar and the latent-to-sentence rule.
#[derive(Clone, Debug)]
pub struct ToyLanguage {
    /// Symbols per sentence `L`.
    pub seq_len: usize,
    /// Alphabet size `V`.
    pub vocab: usize,
    /// Latent dimension `d` (at least 2).
    pub latent_dim: usize,
    step_dirs: Vec<Array1<f64>>,
}

impl ToyLanguage {
    /// A language with random step directions drawn from `rng`.
    pub fn new(seq_len: usize, vocab: usize, latent_dim: usize, rng: &mut Rng) -> ToyLanguage {
        let step_dirs = (1..seq_len)
            .map(|_| Array1::from_shape_simple_fn(latent_dim, || rng.normal()))
            .collect();
        ToyLanguage {
            seq_len,
            vocab,
            latent_dim,
            step_dirs,
        }
    }

    /// The sentence of a latent code.
    pub fn sentence(&self, z: ArrayView1<f64>) -> Vec<usize> {
        let turn = z[1].atan2(z[0]).rem_euclid(std::f64::consts::TAU) / std::f64::consts::TAU;
        let mut symbol = ((turn * self.vocab as f64) as usize).min(self.vocab - 1);
        let mut out = vec![symbol];
        for w in &self.step_dirs {
            symbol = (symbol + if w.dot(&z) > 0.0 { 2 } else { 1 }) % self.vocab;
            out.push(symbol);
        }
        out
    }

    /// Whether a sentence follows the grammar.
    pub fn is_grammatical(&self, sentence: &[usize]) -> bool {
        sentence
            .windows(2)
            .all(|p| matches!((p[1] + self.vocab - p[0]) % self.vocab, 1 | 2))
    }

    /// Letters for a sentence (`a`, `b`, ...).
    pub fn spell(&self, sentence: &[usize]) -> String {
        sentence.iter().map(|&s| (b'a' + s as u8) as char).collect()
    }

    /// `n` latent codes from `N(0, I)` and the one-hot rows (`L x V`, position-major) of their sentences.
    pub fn samples(&self, n: usize, rng: &mut Rng) -> (Array2<f64>, Array2<f64>) {
        let z = Array2::from_shape_simple_fn((n, self.latent_dim), || rng.normal());
        let mut targets = Array2::zeros((n, self.seq_len * self.vocab));
        for (i, zi) in z.outer_iter().enumerate() {
            for (t, s) in self.sentence(zi).into_iter().enumerate() {
                targets[[i, t * self.vocab + s]] = 1.0;
            }
        }
        (z, targets)
    }

    /// The most likely sentence of a decoder output (`L x V` logits).
    pub fn decode(&self, logits: ArrayView1<f64>) -> Vec<usize> {
        (0..self.seq_len)
            .map(|t| argmax(logits.iter().skip(t * self.vocab).take(self.vocab).copied()))
            .collect()
    }
}

/// A decoder `d -> hidden... -> L x V` trained by Adam on `n` samples of the
/// language for `steps` steps (cross-entropy per position); returns it with
/// its training latents.
pub fn train_decoder(
    lang: &ToyLanguage,
    hidden: &[usize],
    n: usize,
    steps: usize,
    rng: &mut Rng,
) -> (Mlp, Array2<f64>) {
    let (z, targets) = lang.samples(n, rng);
    let mut sizes = vec![lang.latent_dim];
    sizes.extend_from_slice(hidden);
    sizes.push(lang.seq_len * lang.vocab);
    let mut decoder = Mlp::new(&sizes, Activation::Relu, 1.0, rng);
    let opts = TrainOptions {
        loss: Loss::SeqCrossEntropy {
            seq_len: lang.seq_len,
            vocab: lang.vocab,
        },
        batch: 128,
        lr: 3e-3,
        weight_decay: 1e-4,
        seed: rng.next_u64(),
    };
    let mut adam = Adam::new(&decoder, n, opts);
    for _ in 0..steps {
        adam.step(&mut decoder, z.view(), targets.view());
    }
    (decoder, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_of_latents_are_grammatical() {
        let mut rng = Rng::new(5);
        let lang = ToyLanguage::new(6, 5, 4, &mut rng);
        let (z, targets) = lang.samples(500, &mut rng);
        for (zi, ti) in z.outer_iter().zip(targets.outer_iter()) {
            let sentence = lang.sentence(zi);
            assert!(lang.is_grammatical(&sentence), "{}", lang.spell(&sentence));
            assert_eq!(lang.decode(ti), sentence);
        }
        assert!(!lang.is_grammatical(&[0, 0, 1, 2, 3, 4]));
        assert!(lang.is_grammatical(&[4, 0, 2, 3, 0, 1]));
    }
}
