//! The shared ScaLES vectors: decoders, latent points and exact scores.
//!
//! Each decoder's logits and Jacobian come from a plain MLP written here (the
//! product of the weight matrices masked by the activation pattern), not from
//! the crate's network code.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView1};

use super::{
    les_from_jacobian, les_grad_from_jacobian, polarity_from_jacobian, scales_v1_from_jacobian, OutputShape,
    Score, V1Options,
};
use crate::test_support::{
    read_json, read_matrix, read_npz_map, to_matrix, to_vector, vector_cases, vectors_dir,
};

/// A dense ReLU-family MLP: activation after every layer but the last.
struct ReferenceMlp {
    layers: Vec<(Array2<f64>, Array1<f64>)>,
    activation: String,
    slope: f64,
}

impl ReferenceMlp {
    fn load(path: &Path) -> ReferenceMlp {
        let mut members = read_npz_map(path);
        let mut layers = Vec::new();
        while let Some(w) = members.remove(&format!("W{}", layers.len())) {
            let b = members.remove(&format!("b{}", layers.len())).unwrap();
            layers.push((to_matrix(w), to_vector(b)));
        }
        let activation = members
            .remove("act")
            .map_or("relu".to_string(), |a| a.into_strings().unwrap().remove(0));
        let slope = members
            .remove("slope")
            .map_or(0.01, |s| s.into_f64().unwrap().iter().next().copied().unwrap());
        ReferenceMlp {
            layers,
            activation,
            slope,
        }
    }

    /// The activation's value and derivative at a pre-activation.
    fn activate(&self, x: f64) -> (f64, f64) {
        match self.activation.as_str() {
            "relu" => {
                if x > 0.0 {
                    (x, 1.0)
                } else {
                    (0.0, 0.0)
                }
            }
            "leaky_relu" => {
                if x > 0.0 {
                    (x, 1.0)
                } else {
                    (self.slope * x, self.slope)
                }
            }
            "abs" => (x.abs(), x.signum()),
            other => panic!("unknown activation {other}"),
        }
    }

    /// The output at `z` and the exact Jacobian of the output's region.
    fn logits_and_jacobian(&self, z: ArrayView1<f64>) -> (Array1<f64>, Array2<f64>) {
        let mut h = z.to_owned();
        let mut jac = Array2::eye(z.len());
        let last = self.layers.len() - 1;
        for (k, (w, b)) in self.layers.iter().enumerate() {
            let pre = w.dot(&h) + b;
            jac = w.dot(&jac);
            if k == last {
                return (pre, jac);
            }
            let (values, slopes): (Vec<f64>, Vec<f64>) = pre.iter().map(|&x| self.activate(x)).unzip();
            h = Array1::from(values);
            for (mut row, s) in jac.rows_mut().into_iter().zip(slopes) {
                row *= s;
            }
        }
        unreachable!("a network has at least one layer")
    }
}

/// A scales vector's output shape, from its `expected.json`.
fn output_shape(meta: &serde_json::Value) -> OutputShape {
    OutputShape::Categorical {
        seq_len: meta["seq_len"].as_u64().unwrap() as usize,
        vocab: meta["vocab"].as_u64().unwrap() as usize,
    }
}

fn assert_close(got: Score, expected: f64, full_rank: bool, rtol: f64, what: &str) {
    assert_eq!(got.full_rank, full_rank, "{what}: full-rank flag");
    assert!(
        (got.value - expected).abs() <= rtol * expected.abs(),
        "{what}: {} vs {expected}",
        got.value
    );
}

#[test]
fn scores_match_the_shared_vectors() {
    let mut points = 0;
    for dir in vector_cases("scales") {
        let meta = read_json(&dir.join("expected.json"));
        let shape = output_shape(&meta);
        let rtol = meta["rtol"].as_f64().unwrap();
        let opts = V1Options {
            tau: meta["tau"].as_f64().unwrap(),
            ..V1Options::default()
        };
        let decoder = ReferenceMlp::load(&dir.join("net.npz"));
        assert_eq!(decoder.activation, meta["activation"].as_str().unwrap());
        let zs = read_matrix(&dir.join("z.npy"));
        let scores = &meta["scores"];
        for (i, z) in zs.rows().into_iter().enumerate() {
            let (logits, jac) = decoder.logits_and_jacobian(z);
            let full_rank = scores["full_rank"][i].as_bool().unwrap();
            let what = |score: &str| format!("{} point {i} {score}", dir.display());
            let expected = |score: &str| scores[score][i].as_f64().unwrap();
            let les = les_from_jacobian(logits.view(), jac.view(), shape).unwrap();
            assert_close(les, expected("les"), full_rank, rtol, &what("les"));
            let polarity = polarity_from_jacobian(jac.view()).unwrap();
            assert_close(polarity, expected("polarity"), full_rank, rtol, &what("polarity"));
            let v1 = scales_v1_from_jacobian(z, logits.view(), jac.view(), shape, &opts).unwrap();
            assert_close(v1, expected("scales_v1"), full_rank, rtol, &what("scales_v1"));
            points += 1;
        }
    }
    assert!(points >= 30, "only {points} scales vector points found");
}

#[test]
fn les_gradient_matches_differences_of_the_decoder() {
    // Steps small enough to stay inside each point's region: the difference
    // quotient of the true decoder then equals the gradient with A fixed.
    let dir = vectors_dir().join("scales/dec_d4_L3_V5");
    let meta = read_json(&dir.join("expected.json"));
    let shape = output_shape(&meta);
    let decoder = ReferenceMlp::load(&dir.join("net.npz"));
    let les_at = |z: ArrayView1<f64>| {
        let (logits, jac) = decoder.logits_and_jacobian(z);
        les_from_jacobian(logits.view(), jac.view(), shape).unwrap().value
    };
    let zs = read_matrix(&dir.join("z.npy"));
    for z in zs.rows().into_iter().take(5) {
        let (logits, jac) = decoder.logits_and_jacobian(z);
        let grad = les_grad_from_jacobian(logits.view(), jac.view(), shape).unwrap();
        let h = 1e-6;
        for k in 0..z.len() {
            let (mut up, mut down) = (z.to_owned(), z.to_owned());
            up[k] += h;
            down[k] -= h;
            let fd = (les_at(up.view()) - les_at(down.view())) / (2.0 * h);
            assert!(
                (grad.value[k] - fd).abs() < 1e-5 * fd.abs().max(1.0),
                "k={k}: {} vs {fd}",
                grad.value[k]
            );
        }
    }
}
