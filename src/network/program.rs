//! The compiled form of a [`super::Network`]: a flat, read-only program of
//! steps and a unit table.
//!
//! A network compiles once, when it is built or loaded, into a [`Program`]:
//! a straight line of [`Step`]s, each an affine map ([`AffineStep`]), a
//! nonlinearity with pattern units ([`Nonlinearity`]), or the two ends of a
//! residual block ([`Step::Fork`] saves the skip path, [`Step::Join`] adds
//! it back). Every evaluator of the crate (forward passes, frozen affine
//! maps, Jacobians, the 2-D splitter, the LP walk's H-representations, the
//! GPU plan) runs this program, and so can a backend or an exporter written
//! outside the crate.

use std::ops::Range;

use ndarray::{ArrayView1, ArrayView2};

use super::layers::{Activation, Conv2d, Pool2d, Shape};

/// Marks a padding position in a max unit's candidate list
/// ([`MaxUnits::candidates`]): a position that never wins.
pub const PADDING: u32 = u32::MAX;

/// The most values data between steps may have: candidate lists index them
/// with `u32`, [`PADDING`] excepted.
pub(crate) const MAX_VALUES: usize = PADDING as usize;

/// A network compiled into a flat list of steps, with its unit table.
///
/// # Semantics
///
/// Data flows through the steps in order as one row per point: an
/// [`AffineStep`] maps the row, a [`Nonlinearity`] maps it and fixes the
/// pattern units `offset..offset + len`, [`Step::Fork`] pushes the current
/// row (or its image under the skip projection) on a stack of saved skip
/// paths and leaves the row as it is, and [`Step::Join`] pops the most
/// recently saved skip path and adds it to the row (body plus skip, in that
/// order, which the crate's evaluators keep so that their sums are
/// bit-identical). The output of the last step is the network's output.
///
/// # Invariants
///
/// Every step takes the width the previous one gives; forks and joins nest;
/// the nonlinearities' units tile `0..unit_count()` in step order; the
/// unit table ([`Program::unit_layers`]) has one entry per nonlinearity, in
/// that order.
///
/// # Examples
///
/// The forward pass of a dense ReLU network, re-implemented from its program:
///
/// ```
/// use cpwl::network::{AffineStep, Nonlinearity, Step};
/// use cpwl::Network;
/// use ndarray::{array, Array1};
///
/// let net = Network::builder(2)
///     .dense(array![[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]], array![0.0, 1.0, 0.25])?
///     .relu()
///     .dense(array![[1.0, 1.0, -2.0]], array![-0.5])?
///     .build()?;
///
/// let forward = |x: Array1<f64>| -> Array1<f64> {
///     let mut h = x;
///     for step in net.program().steps() {
///         h = match step {
///             Step::Affine(AffineStep::Dense(dense)) => dense.w().dot(&h) + dense.b(),
///             Step::Nonlinear(Nonlinearity::TwoPiece(units)) => {
///                 let [neg, pos] = units.slopes();
///                 h.mapv(|z| if z > 0.0 { pos * z } else { neg * z })
///             }
///             other => unimplemented!("not in a dense ReLU network: {other:?}"),
///         };
///     }
///     h
/// };
/// // Dyadic values: every product and sum is exact, whatever the GEMM's order.
/// let x = array![0.5, -0.25];
/// assert_eq!(forward(x.clone()), net.forward(x.view())?);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    input: Shape,
    output: Shape,
    steps: Vec<Step>,
    unit_layers: Vec<UnitLayer>,
    unit_count: usize,
}

/// One step of a [`Program`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// An affine map of the row (no pattern units).
    Affine(AffineStep),
    /// A nonlinearity: it maps the row and fixes its pattern units.
    Nonlinear(Nonlinearity),
    /// The start of a residual block: saves the skip path (the row itself
    /// when `skip` is `None`, else the row's image under the projection
    /// `skip`) and leaves the row unchanged for the block's body.
    Fork {
        /// The projection on the skip path, if any.
        skip: Option<AffineStep>,
    },
    /// The end of a residual block: adds the most recently saved skip path
    /// to the row (the body's output).
    Join,
}

/// An affine step: `x -> L x + c` with `L` linear.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AffineStep {
    /// A dense layer `w x + b`.
    Dense(Dense),
    /// A 2-D convolution.
    Conv(Convolution),
    /// Average pooling (no bias).
    AvgPool(AvgPooling),
    /// A per-channel `scale x + shift`.
    ChannelAffine(ChannelAffine),
}

/// A nonlinearity: a layer of pattern units.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Nonlinearity {
    /// Two-piece units (ReLU, leaky ReLU, abs), one per input.
    TwoPiece(TwoPiece),
    /// Max units (maxout or max pooling), each over a window of inputs.
    Max(MaxUnits),
}

/// A dense step `w x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub(crate) w: ndarray::Array2<f64>,
    pub(crate) b: ndarray::Array1<f64>,
}

/// A 2-D convolution with its input and output shapes resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Convolution {
    pub(crate) conv: Conv2d,
    pub(crate) input: Shape,
    pub(crate) output: Shape,
}

/// Average pooling with its input and output shapes resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct AvgPooling {
    pub(crate) pool: Pool2d,
    pub(crate) input: Shape,
    pub(crate) output: Shape,
}

/// A per-channel affine map `scale[c] x + shift[c]` on data of channels of
/// `spatial` consecutive values (a batch norm with no affine layer before it
/// to fold into).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelAffine {
    pub(crate) scale: ndarray::Array1<f64>,
    pub(crate) shift: ndarray::Array1<f64>,
    pub(crate) spatial: usize,
}

/// Two-piece units: unit `j` maps input `j` to `slopes()[piece] * z`, with
/// piece 0 for `z <= 0` and piece 1 for `z > 0`; the piece is the unit's
/// pattern value.
#[derive(Clone, Debug, PartialEq)]
pub struct TwoPiece {
    pub(crate) act: Activation,
    pub(crate) len: usize,
    pub(crate) offset: usize,
}

/// Max units: unit `j` outputs the largest input over its window
/// [`MaxUnits::window`]; its pattern value is the window position of the
/// first maximum (ties go to the lowest position, [`PADDING`] never wins).
#[derive(Clone, Debug, PartialEq)]
pub struct MaxUnits {
    pub(crate) width: usize,
    pub(crate) cand: Vec<u32>,
    pub(crate) input_len: usize,
    pub(crate) offset: usize,
    pub(crate) pool: bool,
}

/// One nonlinearity of a network, as seen by the pattern: an entry of the
/// unit table ([`Program::unit_layers`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitLayer {
    /// The kind of units.
    pub kind: UnitKind,
    /// The index of the layer's first unit in the pattern.
    pub offset: usize,
    /// The number of units.
    pub len: usize,
    /// The index of the nonlinearity's [`Step`] in [`Program::steps`].
    pub step: usize,
    /// Whether local complexity ([`crate::lc`]) counts the layer: every
    /// two-piece and maxout layer, never max pooling.
    pub lc_counted: bool,
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

impl UnitKind {
    /// The one rule of which nonlinearities local complexity counts: the
    /// two-piece and maxout layers, not max pooling (a pooling window's
    /// arg-max is not a unit of the papers' counts).
    fn lc_counted(self) -> bool {
        !matches!(self, UnitKind::Max { pool: true, .. })
    }
}

impl Program {
    /// Compiles checked steps (the builder's or a validated stored network's):
    /// numbers the unit table from them.
    pub(crate) fn new(input: Shape, output: Shape, steps: Vec<Step>) -> Program {
        let unit_layers: Vec<UnitLayer> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| match step {
                Step::Nonlinear(nl) => Some(nl.unit_layer(i)),
                _ => None,
            })
            .collect();
        let unit_count = unit_layers.last().map_or(0, |u| u.offset + u.len);
        Program {
            input,
            output,
            steps,
            unit_layers,
            unit_count,
        }
    }

    /// The steps, taken out (for the stored form of a network).
    #[cfg(feature = "serde")]
    pub(crate) fn into_steps(self) -> Vec<Step> {
        self.steps
    }

    /// The steps, in execution order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The unit table: one entry per nonlinearity, in pattern order.
    pub fn unit_layers(&self) -> &[UnitLayer] {
        &self.unit_layers
    }

    /// The nonlinearities in pattern order, aligned with [`Program::unit_layers`].
    pub fn nonlinearities(&self) -> impl Iterator<Item = &Nonlinearity> + '_ {
        self.steps.iter().filter_map(|step| match step {
            Step::Nonlinear(nl) => Some(nl),
            _ => None,
        })
    }

    /// The unit layers local complexity counts, in pattern order, each with
    /// its index in the unit table.
    pub fn lc_layers(&self) -> impl Iterator<Item = (usize, &UnitLayer)> + '_ {
        self.unit_layers.iter().enumerate().filter(|(_, u)| u.lc_counted)
    }

    /// The number of pattern units.
    pub fn unit_count(&self) -> usize {
        self.unit_count
    }

    /// The input shape.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// The output shape.
    pub fn output_shape(&self) -> Shape {
        self.output
    }
}

impl<'a> IntoIterator for &'a Program {
    type Item = &'a Step;
    type IntoIter = std::slice::Iter<'a, Step>;

    fn into_iter(self) -> Self::IntoIter {
        self.steps.iter()
    }
}

impl AffineStep {
    /// The number of inputs.
    pub fn input_len(&self) -> usize {
        match self {
            AffineStep::Dense(d) => d.w.ncols(),
            AffineStep::Conv(c) => c.input.len(),
            AffineStep::AvgPool(p) => p.input.len(),
            AffineStep::ChannelAffine(c) => c.scale.len() * c.spatial,
        }
    }

    /// The number of outputs.
    pub fn output_len(&self) -> usize {
        match self {
            AffineStep::Dense(d) => d.w.nrows(),
            AffineStep::Conv(c) => c.output.len(),
            AffineStep::AvgPool(p) => p.output.len(),
            AffineStep::ChannelAffine(c) => c.scale.len() * c.spatial,
        }
    }
}

impl Dense {
    /// The weight, (outputs, inputs).
    pub fn w(&self) -> ArrayView2<'_, f64> {
        self.w.view()
    }

    /// The bias.
    pub fn b(&self) -> ArrayView1<'_, f64> {
        self.b.view()
    }
}

impl Convolution {
    /// The convolution (kernel `(out_channels, in_channels / groups, kh, kw)`,
    /// bias, stride, zero padding, dilation, groups).
    pub fn conv(&self) -> &Conv2d {
        &self.conv
    }

    /// The input shape (an image).
    pub fn input(&self) -> Shape {
        self.input
    }

    /// The output shape (an image).
    pub fn output(&self) -> Shape {
        self.output
    }
}

impl AvgPooling {
    /// The window (zero padding; [`Pool2d::count_include_pad`] says the divisor).
    pub fn pool(&self) -> &Pool2d {
        &self.pool
    }

    /// The input shape (an image).
    pub fn input(&self) -> Shape {
        self.input
    }

    /// The output shape (an image).
    pub fn output(&self) -> Shape {
        self.output
    }
}

impl ChannelAffine {
    /// The scale of each channel.
    pub fn scale(&self) -> ArrayView1<'_, f64> {
        self.scale.view()
    }

    /// The shift of each channel.
    pub fn shift(&self) -> ArrayView1<'_, f64> {
        self.shift.view()
    }

    /// The values per channel (`h w` for images, 1 for flat data).
    pub fn spatial(&self) -> usize {
        self.spatial
    }
}

impl Nonlinearity {
    /// The index of the first unit in the pattern.
    pub fn offset(&self) -> usize {
        match self {
            Nonlinearity::TwoPiece(t) => t.offset,
            Nonlinearity::Max(m) => m.offset,
        }
    }

    /// The number of units (also the number of outputs).
    pub fn len(&self) -> usize {
        match self {
            Nonlinearity::TwoPiece(t) => t.len,
            Nonlinearity::Max(m) => m.len(),
        }
    }

    /// True when the layer has no unit (never for a built network).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pattern indices of the units.
    pub fn units(&self) -> Range<usize> {
        self.offset()..self.offset() + self.len()
    }

    /// The number of inputs.
    pub fn input_len(&self) -> usize {
        match self {
            Nonlinearity::TwoPiece(t) => t.len,
            Nonlinearity::Max(m) => m.input_len,
        }
    }

    /// The kind of units.
    pub fn kind(&self) -> UnitKind {
        match self {
            Nonlinearity::TwoPiece(t) => UnitKind::TwoPiece(t.act),
            Nonlinearity::Max(m) => UnitKind::Max {
                width: m.width,
                pool: m.pool,
            },
        }
    }

    /// The unit-table entry of this nonlinearity, standing at step `step`.
    fn unit_layer(&self, step: usize) -> UnitLayer {
        let kind = self.kind();
        UnitLayer {
            kind,
            offset: self.offset(),
            len: self.len(),
            step,
            lc_counted: kind.lc_counted(),
        }
    }
}

impl TwoPiece {
    /// The activation.
    pub fn activation(&self) -> Activation {
        self.act
    }

    /// The slopes `[piece 0 (z <= 0), piece 1 (z > 0)]`.
    pub fn slopes(&self) -> [f64; 2] {
        self.act.slopes()
    }

    /// The index of the first unit in the pattern.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of units (inputs and outputs).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the layer has no unit (never for a built network).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pattern indices of the units.
    pub fn units(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl MaxUnits {
    /// Candidates per unit (the window size, padding positions included).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The candidate inputs of every unit, unit-major: unit `j`'s window is
    /// `candidates()[j * width() .. (j + 1) * width()]`, [`PADDING`] marking
    /// a padding position.
    pub fn candidates(&self) -> &[u32] {
        &self.cand
    }

    /// The window of unit `j` (panics when `j >= len()`, as slice indexing).
    pub fn window(&self, j: usize) -> &[u32] {
        &self.cand[j * self.width..(j + 1) * self.width]
    }

    /// The number of inputs.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// The index of the first unit in the pattern.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of units (and outputs).
    pub fn len(&self) -> usize {
        self.cand.len() / self.width.max(1)
    }

    /// True when the layer has no unit (never for a built network).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pattern indices of the units.
    pub fn units(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }

    /// True for max pooling, false for maxout.
    pub fn is_pool(&self) -> bool {
        self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Network, Skip};
    use ndarray::{array, Array1, Array2};

    /// dense -> ReLU -> residual (dense skip; dense, abs) -> maxout 2 -> dense.
    fn residual_net() -> Network {
        let w = |r, c, s: f64| Array2::from_shape_fn((r, c), |(i, j)| ((i * c + j) as f64 * s).sin());
        let skip = Skip::Dense {
            w: w(4, 3, 0.9),
            b: array![0.1, -0.2, 0.3, 0.0],
        };
        Network::builder(2)
            .dense(w(3, 2, 0.7), array![0.1, 0.0, -0.1])
            .unwrap()
            .relu()
            .residual_with(skip, |b| Ok(b.dense(w(4, 3, 1.3), Array1::zeros(4))?.abs()))
            .unwrap()
            .maxout(2)
            .dense(w(1, 2, 0.4), array![0.5])
            .unwrap()
            .build()
            .unwrap()
    }

    fn signature(program: &Program) -> Vec<&'static str> {
        program
            .steps()
            .iter()
            .map(|step| match step {
                Step::Affine(AffineStep::Dense(_)) => "dense",
                Step::Affine(_) => "affine",
                Step::Nonlinear(Nonlinearity::TwoPiece(_)) => "two-piece",
                Step::Nonlinear(Nonlinearity::Max(_)) => "max",
                Step::Fork { skip: Some(_) } => "fork projected",
                Step::Fork { skip: None } => "fork",
                Step::Join => "join",
            })
            .collect()
    }

    #[test]
    fn residual_blocks_become_fork_body_join() {
        let net = residual_net();
        let program = net.program();
        assert_eq!(
            signature(program),
            [
                "dense",
                "two-piece",
                "fork projected",
                "dense",
                "two-piece",
                "join",
                "max",
                "dense"
            ]
        );
        let table: Vec<_> = program
            .unit_layers()
            .iter()
            .map(|u| (u.offset, u.len, u.step, u.lc_counted))
            .collect();
        assert_eq!(table, [(0, 3, 1, true), (3, 4, 4, true), (7, 2, 6, true)]);
        assert_eq!(program.unit_count(), 9);
        assert_eq!(net.unit_count(), 9);
        assert_eq!(program.nonlinearities().count(), 3);
        assert_eq!(net.unit_layers(), program.unit_layers());
    }

    /// The program run by hand, one point at a time with plain loops, as
    /// [`Program`]'s documentation describes it.
    fn run_by_hand(program: &Program, x: &[f64]) -> Vec<f64> {
        let dense = |d: &Dense, h: &[f64]| -> Vec<f64> {
            (0..d.w().nrows())
                .map(|i| d.b()[i] + (0..h.len()).map(|j| d.w()[[i, j]] * h[j]).sum::<f64>())
                .collect()
        };
        let affine = |a: &AffineStep, h: &[f64]| match a {
            AffineStep::Dense(d) => dense(d, h),
            other => panic!("not in this test: {other:?}"),
        };
        let mut h = x.to_vec();
        let mut saved = Vec::new();
        for step in program.steps() {
            h = match step {
                Step::Affine(a) => affine(a, &h),
                Step::Nonlinear(Nonlinearity::TwoPiece(t)) => {
                    let [neg, pos] = t.slopes();
                    h.iter()
                        .map(|&z| if z > 0.0 { pos * z } else { neg * z })
                        .collect()
                }
                Step::Nonlinear(Nonlinearity::Max(m)) => (0..m.len())
                    .map(|j| {
                        m.window(j)
                            .iter()
                            .filter(|&&t| t != PADDING)
                            .map(|&t| h[t as usize])
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .collect(),
                Step::Fork { skip } => {
                    saved.push(skip.as_ref().map_or_else(|| h.clone(), |p| affine(p, &h)));
                    h
                }
                Step::Join => {
                    let skip = saved.pop().expect("joins close forks");
                    h.iter().zip(&skip).map(|(a, b)| a + b).collect()
                }
            };
        }
        h
    }

    #[test]
    fn steps_run_by_hand_match_forward() {
        let net = residual_net();
        for x in [[0.3, -0.8], [-1.2, 0.4], [2.0, 1.5], [0.0, 0.0]] {
            let expected = net.forward(Array1::from(x.to_vec()).view()).unwrap();
            let got = run_by_hand(net.program(), &x);
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() <= 1e-12 * (1.0 + e.abs()), "{g} vs {e} at {x:?}");
            }
        }
    }

    #[test]
    fn max_pooling_is_the_one_layer_lc_skips() {
        let net = crate::test_support::pooled_relu_maxout();
        let program = net.program();
        let counted: Vec<_> = program.lc_layers().map(|(i, u)| (i, u.len)).collect();
        assert_eq!(counted, [(1, 4), (2, 2)]);
        let Some(Step::Nonlinear(Nonlinearity::Max(pool))) = program.steps().first() else {
            panic!("max pooling compiles to max units");
        };
        assert!(pool.is_pool());
        // The top-left window of the 4 x 4 image: pixels 0, 1, 4, 5.
        assert_eq!(pool.window(0), [0, 1, 4, 5]);
        assert_eq!(pool.units(), 0..4);
    }
}
