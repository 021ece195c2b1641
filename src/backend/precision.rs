//! [`Precision`]: the floating-point type of the batched forward kernels.

/// The floating-point type that the batched forward passes, activation
/// patterns and local-complexity sign tests compute in.
///
/// [`Precision::F64`] is the default and the only precision of the exact
/// geometry (regions, exact local complexity, LES and ScaLES, Jacobians,
/// hyperplane tests). [`Precision::F32`] is a fast route for
/// [`crate::backend::Backend::forward`] (outputs, patterns and
/// pre-activations, returned as `f64`) and
/// [`crate::backend::Backend::sign_changes`] of plain MLPs (dense layers and
/// two-piece units; other networks run in f64 whatever the choice): the GEMMs
/// run in `f32` on faer. [`crate::backend::CpuBackend`]'s sign tests of plain
/// MLPs (in either precision) hold each neighbourhood as its centre and `P`
/// directions for as long as no unit changes sign over it (about half the
/// GEMM rows of its `2P` vertices), so a vertex value is summed as `c +- d`
/// and its rounding error scales with `|c| + |d|` (the magnitudes of the
/// centre and direction it is summed from) rather than with the vertex's
/// `|c +- d|`; that makes no difference beyond the near-ties below.
///
/// # Near-ties
///
/// An `f32` pre-activation carries a rounding error of up to about `k` `f32`
/// ulps of the row's magnitude (`k` the layer's input width), so a unit
/// whose `f64` pre-activation `z` is close to zero can take the other sign
/// in `f32`. Signs (patterns, local-complexity counts) agree with the `f64`
/// route wherever every unit satisfies
/// `|z| > F32_TIE_BOUND * |(w, b)| * |(x, 1)|` (norm of the unit's weights
/// and bias times the norm of its layer's input with a 1 appended), a margin
/// sized for layers of up to about 800 inputs (see
/// [`crate::tol::F32_TIE_BOUND`]); below it they may differ.
/// `examples/f32_ties.rs` counts how often on the W3 workload.
///
/// # Examples
///
/// ```
/// use cpwl::backend::{Backend, CpuBackend, Keep, Precision};
/// use cpwl::Network;
/// use ndarray::array;
/// let net = Network::builder(1).dense(array![[1.0]], array![0.0])?.relu().build()?;
/// let cpu = CpuBackend::default().with_precision(Precision::F32);
/// let fwd = cpu.forward(&net, array![[-1.0], [2.0]].view(), Keep::Patterns)?;
/// assert_eq!(fwd.outputs, array![[0.0], [2.0]]);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Precision {
    /// Double precision: exact sign tests, the default.
    #[default]
    F64,
    /// Single precision for the batched forward kernels (about twice the GEMM
    /// rate); signs may differ from `F64` at near-ties.
    F32,
}
