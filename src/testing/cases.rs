//! The kit's inputs: seeded random networks of every layer kind, with
//! points, directions and radii, and the shared vectors' networks.

use std::path::Path;

use ndarray::{Array1, Array2, Array4};

use crate::network::{BatchNorm, Conv2d, Pool2d};
use crate::rng::SplitMix64;
use crate::{Error, Network, NetworkBuilder, Result};

/// One network with the inputs the checks feed it.
pub(super) struct Case {
    /// A short label (`"relu mlp"`, or the vector's directory name).
    pub name: String,
    pub net: Network,
    pub points: Array2<f64>,
    /// `P x D` unit directions for the sign-change checks.
    pub directions: Array2<f64>,
    pub radius: f64,
    /// `(seq_len, vocab)` for the LES Gram check.
    pub les_shape: (usize, usize),
}

/// The crate's SplitMix64 uniforms and Box-Muller normals: reproducible on
/// every machine, no RNG crate.
pub(super) struct Rng(SplitMix64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(SplitMix64(seed))
    }

    /// A uniform number in `[0, 1)`.
    pub(super) fn uniform(&mut self) -> f64 {
        self.0.next_unit()
    }

    /// A standard normal number.
    pub(super) fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(f64::MIN_POSITIVE), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A `rows x cols` matrix of normals times `scale`.
    pub(super) fn matrix(&mut self, rows: usize, cols: usize, scale: f64) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || scale * self.normal())
    }

    fn vector(&mut self, n: usize, scale: f64) -> Array1<f64> {
        Array1::from_shape_simple_fn(n, || scale * self.normal())
    }

    /// `p` random unit rows of width `d`.
    pub(super) fn directions(&mut self, p: usize, d: usize) -> Array2<f64> {
        let mut m = self.matrix(p, d, 1.0);
        for mut row in m.outer_iter_mut() {
            let norm = row.dot(&row).sqrt().max(f64::MIN_POSITIVE);
            row /= norm;
        }
        m
    }
}

/// A labelled network with the `(seq_len, vocab)` its LES check reads.
pub(super) type Named = (String, Network, (usize, usize));

/// A dense layer `out x in` with He-scaled weights and small biases.
fn dense(b: NetworkBuilder, rng: &mut Rng, out: usize) -> Result<NetworkBuilder> {
    let inp = b.shape().len();
    b.dense(
        rng.matrix(out, inp, (2.0 / inp as f64).sqrt()),
        rng.vector(out, 0.1),
    )
}

/// Every layer kind, one network each (several per network where they
/// combine): dense with ReLU, leaky ReLU, absolute value and maxout;
/// convolution, batch norm (folded and as a channel affine), max pooling;
/// average pooling and a residual block; and a decoder wider at the output
/// than at the input (the LES routes).
pub(super) fn random_networks(rng: &mut Rng) -> Result<Vec<Named>> {
    let relu = dense(dense(Network::builder(6), rng, 16)?.relu(), rng, 12)?.relu();
    let leaky = dense(Network::builder(5), rng, 12)?.leaky_relu(0.1);
    let abs = dense(Network::builder(4), rng, 10)?.abs();
    let maxout = dense(Network::builder(4), rng, 24)?.maxout(3);
    let conv = conv_pool(rng)?;
    let residual = avg_residual(rng)?;
    let decoder = dense(Network::builder(3), rng, 10)?.relu();
    let mut out = Vec::new();
    for (name, body, outputs, shape) in [
        ("relu mlp", relu, 3, (1, 3)),
        ("leaky mlp", leaky, 4, (2, 2)),
        ("abs mlp", abs, 3, (1, 3)),
        ("maxout mlp", maxout, 3, (1, 3)),
        ("conv batch-norm max-pool", conv, 3, (1, 3)),
        ("avg-pool residual", residual, 2, (1, 2)),
        ("decoder", decoder, 12, (3, 4)),
    ] {
        let net = dense(body, rng, outputs)?.build()?;
        out.push((name.to_string(), net, shape));
    }
    Ok(out)
}

/// Convolution, batch norm folded into it, ReLU, batch norm as a channel
/// affine, max pooling, then a dense ReLU layer (1 x 6 x 6 input).
fn conv_pool(rng: &mut Rng) -> Result<NetworkBuilder> {
    let weight = Array4::from_shape_simple_fn((3, 1, 3, 3), || rng.normal() / 3.0);
    let mut conv = Conv2d::new(weight, Some(rng.vector(3, 0.1)));
    conv.padding = [1, 1];
    let bn = |rng: &mut Rng| BatchNorm {
        gamma: Array1::from_shape_simple_fn(3, || 1.0 + 0.1 * rng.normal()),
        beta: rng.vector(3, 0.1),
        mean: rng.vector(3, 0.1),
        var: Array1::from_shape_simple_fn(3, || 1.0 + 0.1 * rng.uniform()),
        eps: 1e-5,
    };
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
        count_include_pad: true,
    };
    let b = Network::builder_image(1, 6, 6)
        .conv2d(conv)?
        .batch_norm(bn(rng))?
        .relu()
        .batch_norm(bn(rng))?
        .max_pool2d(pool)?
        .flatten();
    Ok(dense(b, rng, 8)?.relu())
}

/// Average pooling, a dense layer and a residual block with leaky ReLU
/// (2 x 4 x 4 input).
fn avg_residual(rng: &mut Rng) -> Result<NetworkBuilder> {
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
        count_include_pad: true,
    };
    let b = Network::builder_image(2, 4, 4).avg_pool2d(pool)?.flatten();
    let b = dense(b, rng, 8)?;
    let w = rng.matrix(8, 8, 0.5);
    let bias = rng.vector(8, 0.1);
    b.residual(|r| r.dense(w, bias).map(|r| r.leaky_relu(0.2)))
}

/// A seeded case around a network: normal points and 4 random directions.
pub(super) fn random_case(
    name: String,
    net: Network,
    les_shape: (usize, usize),
    n: usize,
    rng: &mut Rng,
) -> Case {
    let d = net.input_dim();
    Case {
        name,
        points: rng.matrix(n, d, 1.0),
        directions: rng.directions(4, d),
        radius: 0.2,
        les_shape,
        net,
    }
}

/// The shared vectors' networks (`forward/*`, `lc/*`, `scales/*` under
/// `root`) with their points (`points.npy` or `z.npy`).
///
/// # Errors
///
/// [`Error::File`] for a missing directory or unreadable file.
pub(super) fn vector_cases(root: &Path, rng: &mut Rng) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    for family in ["forward", "lc", "scales"] {
        let dir = root.join(family);
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::File {
            path: dir.clone(),
            reason: "cannot list the vector cases".into(),
            source: Some(Box::new(e)),
        })?;
        let mut dirs: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for case in dirs {
            out.push(vector_case(&case, rng)?);
        }
    }
    Ok(out)
}

fn vector_case(dir: &Path, rng: &mut Rng) -> Result<Case> {
    let net = Network::from_npz(dir.join("net.npz"))?;
    let file = if dir.join("z.npy").exists() {
        "z.npy"
    } else {
        "points.npy"
    };
    let points = crate::io::load_npy(dir.join(file))?;
    let points = points.into_dimensionality().map_err(|e| Error::File {
        path: dir.join(file),
        reason: "expected a matrix of points".into(),
        source: Some(Box::new(e)),
    })?;
    let d = net.input_dim();
    let outputs = net.output_dim();
    Ok(Case {
        name: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        directions: rng.directions(4, d),
        radius: 0.1,
        les_shape: (1, outputs),
        points,
        net,
    })
}
