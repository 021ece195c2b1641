//! The CPWL network model: layers, activation patterns, exact local maps.
//!
//! A [`Network`] is a stack of affine layers (dense, convolution, average
//! pooling, batch norm) and CPWL nonlinearities (ReLU, leaky ReLU, abs,
//! maxout, max pooling), possibly nested in residual blocks. Every hidden
//! nonlinearity contributes units to the [`Pattern`]; on the region of a
//! pattern the network is one [`Affine`] map.

mod affine;
mod builder;
pub(crate) mod eval;
mod head;
pub(crate) mod layers;
mod pattern;
mod spatial;
#[cfg(feature = "serde")]
mod stored;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

pub use affine::Affine;
pub use builder::NetworkBuilder;
pub use head::Head;
pub use layers::{Activation, BatchNorm, Conv2d, Pool2d, Shape, Skip};
pub use pattern::{Pattern, MAX_UNIT_VALUE};

use crate::backend::{Backend, CpuBackend, Keep};
use crate::{Error, Result};
use layers::Layer;

/// A continuous piecewise-linear network.
///
/// # Semantics
///
/// Input and output are flat vectors (images are `C x H x W`, flattened
/// row-major as in PyTorch). The hidden units are the inputs of every
/// nonlinearity, in execution order (a residual body's units come where the
/// block stands); their count is [`Network::unit_count`].
///
/// # Examples
///
/// ```
/// use cpwl::Network;
/// use ndarray::array;
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?
///     .abs()
///     .dense(array![[1.0, 1.0]], array![0.0])?
///     .build()?;
/// let x = array![-1.0, 2.0];
/// assert_eq!(net.pattern(x.view())?.to_string(), "01");
/// let map = net.local_affine(x.view())?;
/// assert_eq!(map.a, array![[-1.0, 1.0]]);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "stored::StoredNetwork")
)]
pub struct Network {
    input: Shape,
    output: Shape,
    layers: Vec<Layer>,
    units: usize,
    /// The output head an importer dropped (`None` for most networks).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    head: Option<Head>,
}

/// One nonlinearity of a network, as seen by the pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitLayer {
    /// The kind of units.
    pub kind: UnitKind,
    /// The index of the layer's first unit in the pattern.
    pub offset: usize,
    /// The number of units.
    pub len: usize,
}

/// The kind of units of a nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnitKind {
    /// Two-piece units of the given activation.
    TwoPiece(Activation),
    /// Max units over `width` candidates: maxout (`pool == false`) or max pooling.
    Max {
        /// Candidates per unit (window size with padding positions).
        width: usize,
        /// True for max pooling.
        pool: bool,
    },
}

impl Network {
    /// A builder for a network on flat inputs of length `input_dim`.
    pub fn builder(input_dim: usize) -> NetworkBuilder {
        NetworkBuilder::new(Shape::Flat(input_dim))
    }

    /// A builder for a network on `c x h x w` images (flattened row-major).
    pub fn builder_image(c: usize, h: usize, w: usize) -> NetworkBuilder {
        NetworkBuilder::new(Shape::Image { c, h, w })
    }

    pub(crate) fn from_parts(input: Shape, output: Shape, layers: Vec<Layer>, units: usize) -> Network {
        Network {
            input,
            output,
            layers,
            units,
            head: None,
        }
    }

    pub(crate) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The input dimension.
    pub fn input_dim(&self) -> usize {
        self.input.len()
    }

    /// The input shape.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// The output dimension.
    pub fn output_dim(&self) -> usize {
        self.output.len()
    }

    /// The number of hidden units (the length of every [`Pattern`]).
    pub fn unit_count(&self) -> usize {
        self.units
    }

    /// The nonlinearities in pattern order.
    pub fn unit_layers(&self) -> Vec<UnitLayer> {
        let mut out = Vec::new();
        collect_unit_layers(&self.layers, &mut out);
        out
    }

    /// The candidate inputs of every max unit, aligned with
    /// [`Network::unit_layers`] (empty for two-piece layers).
    pub(crate) fn max_candidates(&self) -> Vec<&[u32]> {
        let mut out = Vec::new();
        collect_candidates(&self.layers, &mut out);
        out
    }

    /// The output at `x`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong length, [`Error::NonFinite`] for NaN/inf.
    pub fn forward(&self, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        let out = self.forward_batch(x.insert_axis(ndarray::Axis(0)))?;
        Ok(out.row(0).to_owned())
    }

    /// The outputs at a batch of points (one per row), on the CPU backend.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn forward_batch(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.forward_batch_on(&CpuBackend::default(), x)
    }

    /// [`Network::forward_batch`] on a chosen backend.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`], and backend failures.
    pub fn forward_batch_on(&self, backend: &dyn Backend, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        Ok(backend.forward(self, x, Keep::Outputs)?.outputs)
    }

    /// The activation pattern at `x`.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn pattern(&self, x: ArrayView1<f64>) -> Result<Pattern> {
        Ok(self.pattern_batch(x.insert_axis(ndarray::Axis(0)))?.remove(0))
    }

    /// The activation patterns of a batch of points, on the CPU backend.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn pattern_batch(&self, x: ArrayView2<f64>) -> Result<Vec<Pattern>> {
        let fwd = CpuBackend::default().forward(self, x, Keep::Patterns)?;
        let choices = fwd
            .patterns
            .ok_or_else(|| Error::invalid("backend", "returned no patterns"))?;
        Ok(choices
            .outer_iter()
            .map(|row| Pattern::from_checked(row.as_slice().unwrap_or(&row.to_vec())))
            .collect())
    }

    /// The exact affine map of the region of `x` (where the pattern of `x` holds).
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn local_affine(&self, x: ArrayView1<f64>) -> Result<Affine> {
        let pattern = self.pattern(x)?;
        self.affine_of(&pattern)
    }

    /// The affine map the network computes on the region of `pattern`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the pattern does not fit the network.
    pub fn affine_of(&self, pattern: &Pattern) -> Result<Affine> {
        let values = self.check_pattern(pattern)?;
        let choices = ndarray::ArrayView2::from_shape((1, values.len()), &values)
            .map_err(|e| Error::invalid("pattern", e.to_string()))?;
        let seed = Array2::eye(self.output_dim());
        let a = eval::reverse(&self.layers, seed, self.output_dim(), choices);
        let zero = Array2::zeros((1, self.input_dim()));
        let b = eval::frozen(&self.layers, zero, 0, &values, None);
        Ok(Affine {
            a,
            b: b.row(0).to_owned(),
        })
    }

    /// The pre-activation of every nonlinearity as affine functions of domain
    /// coordinates `y` (with `x = origin + basis^T y`), under a frozen pattern.
    /// Entry `l` has `basis.nrows() + 1` rows: the linear part, then the offset.
    pub(crate) fn preactivation_maps(
        &self,
        pattern: &[u8],
        basis: ArrayView2<f64>,
        origin: &Array1<f64>,
    ) -> (Vec<Array2<f64>>, Array2<f64>) {
        let rows = eval::affine_rows(basis, origin);
        let mut pre = Vec::new();
        let out = eval::frozen(&self.layers, rows, basis.nrows(), pattern, Some(&mut pre));
        (pre, out)
    }

    /// Checks that a pattern fits this network and returns its unit values.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong length, a two-piece unit above 1, or a max
    /// unit pointing outside its window or at padding.
    pub fn check_pattern(&self, pattern: &Pattern) -> Result<Vec<u8>> {
        if pattern.len() != self.units {
            return Err(Error::invalid(
                "pattern",
                format!("{} units for a network with {}", pattern.len(), self.units),
            ));
        }
        let values = pattern.to_values();
        check_values(&self.layers, &values)?;
        Ok(values)
    }

    pub(crate) fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.input_dim() {
            return Err(Error::shape(
                "network input",
                format!("{} columns", self.input_dim()),
                x.ncols(),
            ));
        }
        crate::error::check_finite("network input", x.iter())
    }
}

fn collect_unit_layers(layers: &[Layer], out: &mut Vec<UnitLayer>) {
    for layer in layers {
        match layer {
            Layer::TwoPiece { act, len, offset } => out.push(UnitLayer {
                kind: UnitKind::TwoPiece(*act),
                offset: *offset,
                len: *len,
            }),
            Layer::Max {
                width,
                cand,
                offset,
                pool,
                ..
            } => out.push(UnitLayer {
                kind: UnitKind::Max {
                    width: *width,
                    pool: *pool,
                },
                offset: *offset,
                len: cand.len() / width,
            }),
            Layer::Residual { body, .. } => collect_unit_layers(body, out),
            _ => {}
        }
    }
}

fn collect_candidates<'a>(layers: &'a [Layer], out: &mut Vec<&'a [u32]>) {
    for layer in layers {
        match layer {
            Layer::TwoPiece { .. } => out.push(&[]),
            Layer::Max { cand, .. } => out.push(cand),
            Layer::Residual { body, .. } => collect_candidates(body, out),
            _ => {}
        }
    }
}

fn check_values(layers: &[Layer], values: &[u8]) -> Result<()> {
    for layer in layers {
        match layer {
            Layer::TwoPiece { len, offset, .. } => {
                if let Some(i) = values[*offset..offset + len].iter().position(|&v| v > 1) {
                    return Err(Error::invalid(
                        "pattern",
                        format!("two-piece unit {} has value {}", offset + i, values[offset + i]),
                    ));
                }
            }
            Layer::Max {
                width, cand, offset, ..
            } => {
                for (j, taps) in cand.chunks_exact(*width).enumerate() {
                    let v = values[offset + j] as usize;
                    if v >= *width || taps[v] == layers::NONE {
                        return Err(Error::invalid(
                            "pattern",
                            format!(
                                "max unit {} points at window position {v}, which is not an input",
                                offset + j
                            ),
                        ));
                    }
                }
            }
            Layer::Residual { body, .. } => check_values(body, values)?,
            _ => {}
        }
    }
    Ok(())
}
