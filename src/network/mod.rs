//! The CPWL network model: layers, its compiled program, activation patterns, exact local maps.
//!
//! A [`Network`] is a stack of affine layers (dense, convolution, average
//! pooling, batch norm) and CPWL nonlinearities (ReLU, leaky ReLU, abs,
//! maxout, max pooling), possibly nested in residual blocks. Every hidden
//! nonlinearity contributes units to the [`Pattern`]; on the region of a
//! pattern the network is one [`Affine`] map.
//!
//! Built or loaded, a network is compiled once into a read-only [`Program`]
//! ([`Network::program`]): a flat list of [`Step`]s and a unit table that
//! every evaluator runs, and that a backend or an exporter outside the crate
//! can read. This module is the model only: it names no backend and no
//! algorithm (the entry points that pick a backend, such as
//! [`Network::forward_batch`], are defined in [`crate::backend`]).

mod affine;
mod builder;
pub(crate) mod eval;
mod head;
mod layers;
mod pattern;
mod program;
mod spatial;
#[cfg(feature = "serde")]
mod stored;

use ndarray::{Array1, Array2, ArrayView2};

pub use affine::{Affine, AffineView};
pub use builder::NetworkBuilder;
pub use head::Head;
pub use layers::{Activation, BatchNorm, Conv2d, Pool2d, Shape, Skip};
pub use pattern::{Pattern, PatternRef, MAX_UNIT_VALUE};
pub use program::{
    AffineStep, AvgPooling, ChannelAffine, Convolution, Dense, MaxUnits, Nonlinearity, Program, Step,
    TwoPiece, UnitKind, UnitLayer, PADDING,
};

use crate::error::{Error, Result};

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
    serde(into = "stored::StoredNetwork", try_from = "stored::StoredNetwork")
)]
pub struct Network {
    program: Program,
    /// The output head an importer dropped (`None` for most networks).
    head: Option<Head>,
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

    pub(crate) fn from_program(program: Program) -> Network {
        Network { program, head: None }
    }

    /// The compiled program: the steps every evaluator runs, their weights
    /// and the unit table, for backends and exporters.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The input dimension.
    pub fn input_dim(&self) -> usize {
        self.program.input_shape().len()
    }

    /// The input shape.
    pub fn input_shape(&self) -> Shape {
        self.program.input_shape()
    }

    /// The output dimension.
    pub fn output_dim(&self) -> usize {
        self.program.output_shape().len()
    }

    /// The number of hidden units (the length of every [`Pattern`]).
    pub fn unit_count(&self) -> usize {
        self.program.unit_count()
    }

    /// The nonlinearities in pattern order (the program's unit table).
    pub fn unit_layers(&self) -> &[UnitLayer] {
        self.program.unit_layers()
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
        let a = eval::reverse(self.program.steps(), seed, self.output_dim(), choices);
        let zero = Array2::zeros((1, self.input_dim()));
        let b = eval::frozen(self.program.steps(), zero, 0, &values, None);
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
        let out = eval::frozen(self.program.steps(), rows, basis.nrows(), pattern, Some(&mut pre));
        (pre, out)
    }

    /// Checks that a pattern fits this network and returns its unit values.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong length, a two-piece unit above 1, or a max
    /// unit pointing outside its window or at padding.
    pub fn check_pattern(&self, pattern: &Pattern) -> Result<Vec<u8>> {
        if pattern.len() != self.unit_count() {
            return Err(Error::invalid(
                "pattern",
                format!("{} units for a network with {}", pattern.len(), self.unit_count()),
            ));
        }
        let values = pattern.to_values();
        for nl in self.program.nonlinearities() {
            check_values(nl, &values)?;
        }
        Ok(values)
    }

    /// Checks a batch of input points once, at an entry point: the width,
    /// then finiteness (an error names the row).
    pub(crate) fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        self.check_input_shape(x)?;
        crate::error::check_finite_rows("network input", x)
    }

    /// The width check alone, which backends keep (a constant-time guard
    /// against a panic; values are the entry point's business).
    pub(crate) fn check_input_shape(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.input_dim() {
            return Err(Error::shape(
                "network input",
                format!("{} columns", self.input_dim()),
                x.ncols(),
            ));
        }
        Ok(())
    }

    /// Checks that every row of a backend's pattern batch fits this network
    /// (a third-party backend's output is checked before it becomes a
    /// [`Pattern`]).
    pub(crate) fn check_pattern_rows(&self, choices: ndarray::ArrayView2<u8>) -> Result<()> {
        for row in choices.outer_iter() {
            let values = row.to_vec();
            for nl in self.program.nonlinearities() {
                check_values(nl, &values)?;
            }
        }
        Ok(())
    }
}

/// Checks the pattern values of one nonlinearity's units.
fn check_values(nl: &Nonlinearity, values: &[u8]) -> Result<()> {
    match nl {
        Nonlinearity::TwoPiece(t) => {
            if let Some(i) = values[t.units()].iter().position(|&v| v > 1) {
                let unit = t.offset + i;
                return Err(Error::invalid(
                    "pattern",
                    format!("two-piece unit {unit} has value {}", values[unit]),
                ));
            }
        }
        Nonlinearity::Max(m) => {
            for (j, taps) in m.cand.chunks_exact(m.width).enumerate() {
                let v = values[m.offset + j] as usize;
                if v >= m.width || taps[v] == PADDING {
                    return Err(Error::invalid(
                        "pattern",
                        format!(
                            "max unit {} points at window position {v}, which is not an input",
                            m.offset + j
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
