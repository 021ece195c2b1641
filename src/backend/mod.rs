//! Backends: the batched kernels that the algorithms spend their time in.
//!
//! Every long-running entry point runs its inner loops through a
//! [`Backend`]; [`CpuBackend`] is the default. Region bookkeeping (hash sets,
//! LPs, polygon splitting) stays on the CPU; a backend accelerates four
//! kernel families:
//!
//! 1. batched forward passes keeping outputs, patterns or pre-activations
//!    ([`Backend::forward`]);
//! 2. sign-change counting for local complexity ([`Backend::sign_changes`]);
//! 3. batched Jacobians ([`Backend::jacobians`]) and the Gram matrices of
//!    LES ([`Backend::les_grams`], from latent points to `d x d` matrices in
//!    one call);
//! 4. batched affine maps: the values of many affine functions at many
//!    points in one product ([`Backend::affine_values`], every dense layer's
//!    pre-activations at all vertices of the region skeleton).
//!
//! A point set evaluated again and again (the same probe points at every
//! training checkpoint) can be handed over once
//! ([`Backend::prepare_points`], [`PreparedPoints`]): a backend with its own
//! memory keeps it there, and [`Backend::sign_changes_prepared`] reads it
//! from there for each new network.
//!
//! The backend is chosen in [`crate::run::RunOptions::backend`] for every
//! long-running entry point (both local-complexity variants, the scores,
//! [`Network::pattern_batch_with`]). A backend can be written outside the
//! crate; the conformance kit (`cpwl::testing`, feature `testing`) checks one
//! against [`CpuBackend`].

pub(crate) mod cpu;
#[cfg(feature = "cuda")]
#[allow(unsafe_code)]
mod cuda;
mod entry;
mod les;
mod precision;
mod prepared;

use std::ops::Range;

pub(crate) use entry::{affine_values_on, dense_blocks_on, patterns_on};

use ndarray::{Array2, Array3, ArrayView1, ArrayView2};

pub use cpu::CpuBackend;
#[cfg(feature = "cuda")]
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
pub use cuda::CudaBackend;
pub use precision::Precision;
pub use prepared::{PreparedPoints, ResidentData};

use crate::{Error, Network, Result};

/// What a batched forward pass keeps besides the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Only the outputs.
    Outputs,
    /// The outputs and the activation pattern of every point.
    Patterns,
    /// The outputs, the patterns and every nonlinearity's pre-activations.
    PreActivations,
}

/// The result of [`Backend::forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardBatch {
    /// Outputs, points x outputs.
    pub outputs: Array2<f64>,
    /// Pattern unit values, points x units (with [`Keep::Patterns`] or more).
    pub patterns: Option<Array2<u8>>,
    /// Pre-activations of each nonlinearity in pattern order, each points x
    /// inputs of that nonlinearity (with [`Keep::PreActivations`]).
    pub pre_activations: Option<Vec<Array2<f64>>>,
}

/// The result of [`Backend::jacobians`].
#[derive(Clone, Debug, PartialEq)]
pub struct JacobianBatch {
    /// Outputs, points x outputs.
    pub outputs: Array2<f64>,
    /// Pattern unit values, points x units.
    pub patterns: Array2<u8>,
    /// Exact Jacobians of the output, points x outputs x inputs.
    pub jacobians: Array3<f64>,
}

/// The result of [`Backend::les_grams`].
#[derive(Clone, Debug, PartialEq)]
pub struct LesGramBatch {
    /// Decoder outputs (logits), points x `L V`.
    pub outputs: Array2<f64>,
    /// The LES Gram matrix `J^T J` of every point, points x d x d.
    pub grams: Array3<f64>,
}

/// The local-complexity neighbourhood of [`Backend::sign_changes`]: for each
/// point `x`, the `2P` vertices `x + r v_1, ..., x + r v_P, x - r v_1, ..., x - r v_P`.
#[derive(Clone, Copy, Debug)]
pub struct Neighbourhood<'a> {
    /// P x D unit directions.
    pub directions: ArrayView2<'a, f64>,
    /// The radius r.
    pub radius: f64,
    /// Whether the output layer's units are counted as a last layer.
    pub count_output: bool,
}

/// A provider of the batched kernels.
///
/// # Contract
///
/// - **Answers.** Implementations give the same answers as [`CpuBackend`]:
///   identical patterns and integer counts, values within 1e-9 relative.
/// - **Checked inputs.** The crate's entry points validate once, before the
///   first kernel call: options, shapes, and finiteness of every point (an
///   error names the row). A kernel receives finite points and may skip any
///   value scan; it keeps only the constant-time shape checks documented on
///   each method (returning [`Error::Shape`], never panicking), since the
///   trait is public and can be called directly.
/// - **Batches.** An entry point hands a kernel a whole wave of points (its
///   [`crate::run::RunOptions::chunk`] times the threads of the pool it runs
///   on); the kernel cuts it into its own tasks, so results must not depend
///   on how a batch is cut. Entry points check cancellation and time budgets
///   between waves: a kernel need not.
/// - **Errors.** Besides shape errors, a kernel fails only for device faults
///   ([`Error::Backend`]).
///
/// `cpwl::testing` (feature `testing`) checks all of this for a given backend.
pub trait Backend: Send + Sync {
    /// A short name for messages (`"cpu"`, `"cuda:0"`).
    fn name(&self) -> &str;

    /// The precision of [`Backend::forward`] and [`Backend::sign_changes`]
    /// ([`Precision::F64`] unless the backend says otherwise). The exact
    /// geometry entry points refuse a backend that answers
    /// [`Precision::F32`].
    fn precision(&self) -> Precision {
        Precision::F64
    }

    /// Runs a batch of points (one per row) through the network.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the points do not have the network's input
    /// width; device faults.
    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch>;

    /// Exact Jacobians of the output at a batch of points, from their patterns.
    ///
    /// # Errors
    ///
    /// As [`Backend::forward`].
    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch>;

    /// Local-complexity counts: for each point and each counted layer, the
    /// number of units whose three-valued pre-activation sign (arg-max index for
    /// maxout units) at some neighbourhood vertex differs from the first
    /// vertex's. Counted layers: every two-piece and maxout nonlinearity in
    /// pattern order (max pooling never), then the output layer when
    /// `hood.count_output`. Returns points x counted layers.
    ///
    /// # Errors
    ///
    /// As [`Backend::forward`].
    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>>;

    /// The LES Gram matrices of a categorical decoder at latent points `z`
    /// (rows): with logits `l = decoder(z)` read as `seq_len x vocab`,
    /// `p_t = softmax(l_t)`, `Z_t = sum_v exp(l_tv)` and `A_t` the Jacobian
    /// rows of position `t`,
    /// `G = sum_t A_t^T [(D_t - p_t p_t^T)^2 + p_t p_t^T / Z_t^2] A_t`, so that
    /// `LES(z) = -1/2 log det G` (see [`crate::scales`]). Plain `f64`: `1/Z_t`
    /// over- or underflows for logits beyond about ±709, where
    /// [`crate::scales::les`] keeps its exact scaled route.
    ///
    /// The default reduces [`Backend::jacobians`] on the CPU; a backend that
    /// keeps the Jacobians on its device overrides it so that only the
    /// `d x d` matrices come back.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Shape`] when `seq_len x vocab` is not the decoder's
    /// output width or `z` has the wrong width; as [`Backend::jacobians`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::backend::{Backend, CpuBackend};
    /// use cpwl::Network;
    /// use ndarray::array;
    ///
    /// // A linear decoder: 2 latents -> one position over 3 symbols.
    /// let dec = Network::builder(2)
    ///     .dense(array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], array![0.0, 0.0, 0.0])?
    ///     .build()?;
    /// let batch = CpuBackend::default().les_grams(&dec, array![[0.1, -0.2]].view(), 1, 3)?;
    /// assert_eq!(batch.grams.dim(), (1, 2, 2));
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    fn les_grams(
        &self,
        decoder: &Network,
        z: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Result<LesGramBatch> {
        les::les_grams_from_jacobians(self, decoder, z, seq_len, vocab)
    }

    /// Whether the scores should take [`Backend::les_grams`] for LES on
    /// `decoder` (true for a fused kernel that keeps the Jacobians on its
    /// device and returns only the `d x d` matrices) instead of
    /// [`Backend::jacobians`] and the exact reduction on the CPU. The
    /// default, `false`, suits backends that keep the default `les_grams`.
    fn prefers_les_grams(&self, decoder: &Network) -> bool {
        let _ = decoder;
        false
    }

    /// Takes a point set (one point per row) that will be evaluated for
    /// many networks, so that the backend can keep its own copy (device
    /// buffers) for [`Backend::sign_changes_prepared`].
    ///
    /// The default keeps only the host array
    /// ([`PreparedPoints::host`]): no residency, every call sends the points
    /// again. A backend with its own memory attaches its copy with
    /// [`PreparedPoints::with_resident`]. Entry points hand over checked
    /// (finite) points.
    ///
    /// # Errors
    ///
    /// Device faults (for example, a set larger than the device's memory).
    fn prepare_points(&self, points: Array2<f64>) -> Result<PreparedPoints> {
        Ok(PreparedPoints::host(points))
    }

    /// [`Backend::sign_changes`] at the points `rows` of a prepared set,
    /// counts for those points only (`rows.len()` x counted layers).
    ///
    /// The default passes the host points of `rows` to
    /// [`Backend::sign_changes`]; a backend that finds its own resident copy
    /// in `prepared` reads the points from there. A set prepared by another
    /// backend must still be answered (from its host points).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `rows` does not lie inside the set; as
    /// [`Backend::sign_changes`].
    fn sign_changes_prepared(
        &self,
        net: &Network,
        prepared: &PreparedPoints,
        rows: Range<usize>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.sign_changes(net, prepared.rows(rows)?, hood)
    }

    /// The values `a_i . p + c_i` of the affine functions given by the rows
    /// `a_i` of `a` (`k x D`) and the entries of `c` (`k`), at every row `p`
    /// of `points` (`n x D`): the `n x k` matrix `points a^T + c`.
    ///
    /// This is one dense layer applied to a batch, without a network around
    /// it: [`crate::regions::Method::Skeleton`] takes every dense layer's
    /// pre-activations at all vertices of its complex from one call. It runs
    /// in `f64` whatever [`Backend::precision`] says (it feeds exact
    /// geometry). [`CpuBackend`] computes each value exactly as its
    /// [`Backend::forward`] computes the same dense layer (same products,
    /// same summation order, then `+ c_i`); other backends agree within the
    /// contract's relative tolerance. The crate checks the arguments
    /// ([`check_affine`]) and that the points are finite before the call.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Shape`] when the dimensions disagree
    /// ([`check_affine`]); device faults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::backend::{Backend, CpuBackend};
    /// use ndarray::array;
    ///
    /// // Two functions, x + 2y - 1 and -y, at two points.
    /// let a = array![[1.0, 2.0], [0.0, -1.0]];
    /// let c = array![-1.0, 0.0];
    /// let points = array![[0.0, 0.0], [1.0, 3.0]];
    /// let values = CpuBackend::default().affine_values(a.view(), c.view(), points.view())?;
    /// assert_eq!(values, array![[-1.0, 0.0], [6.0, -3.0]]);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>>;

    /// Blocks of affine rows through a dense layer `y = w x + b` (`w`:
    /// `out x in`, `b`: `out`): every row of `rows` (`n x in`) times `w^T`,
    /// and `b` added to row `offset_row` of each block of `block` rows only.
    ///
    /// A block holds affine functions of a few coordinates: their gradient
    /// rows and, at `offset_row`, their values at the coordinates' origin.
    /// [`crate::regions::Method::PlaneSplit`] keeps three rows per cell
    /// (`d/ds`, `d/dt`, value) and runs every dense layer of its cells
    /// through this. It runs in `f64` whatever [`Backend::precision`] says.
    /// The default (which [`CpuBackend`] keeps) is one faer product and one
    /// sum per offset value, bit for bit the crate's frozen evaluators;
    /// other backends agree within the contract's relative tolerance.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `b` does not have `w`'s rows, `rows` does not
    /// have `w`'s columns or whole blocks, or `offset_row >= block`; device
    /// faults.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::backend::{Backend, CpuBackend};
    /// use ndarray::array;
    ///
    /// // The block of f(s, t) = (s + 1, 2t): d/ds, d/dt, f(0, 0), through y = [x0 + x1 + 3].
    /// let block = array![[1.0, 0.0], [0.0, 2.0], [1.0, 0.0]];
    /// let (w, b) = (array![[1.0, 1.0]], array![3.0]);
    /// let y = CpuBackend::default().dense_blocks(w.view(), b.view(), block.view(), (3, 2))?;
    /// assert_eq!(y, array![[1.0], [2.0], [4.0]]);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    fn dense_blocks(
        &self,
        w: ArrayView2<f64>,
        b: ArrayView1<f64>,
        rows: ArrayView2<f64>,
        (block, offset_row): (usize, usize),
    ) -> Result<Array2<f64>> {
        cpu::blocks::dense_blocks(w, b, rows, (block, offset_row))
    }
}

/// Checks the points of [`Backend::forward`] and [`Backend::jacobians`]:
/// one point per row, of the network's input width.
///
/// This and [`check_neighbourhood`] and [`check_affine`] are the
/// argument checks of the [`Backend`] contract, shared by every backend (the
/// crate's and those written outside it): each is a constant-time shape test
/// that returns [`Error::Shape`] instead of letting a kernel panic on a bad
/// slice.
///
/// # Errors
///
/// [`Error::Shape`] when the points do not have the network's input width.
///
/// # Examples
///
/// ```
/// use cpwl::backend::check_points;
/// use cpwl::Network;
/// use ndarray::array;
/// let net = Network::builder(2).dense(array![[1.0, 1.0]], array![0.0])?.build()?;
/// assert!(check_points(&net, array![[0.5, 1.0]].view()).is_ok());
/// assert!(check_points(&net, array![[0.5]].view()).is_err());
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn check_points(net: &Network, x: ArrayView2<f64>) -> Result<()> {
    net.check_input_shape(x)
}

/// Checks the arguments of [`Backend::sign_changes`]: the points (as
/// [`check_points`]) and the neighbourhood's directions, `P x D` with
/// `P >= 1` and `D` the network's input dimension.
///
/// # Errors
///
/// [`Error::Shape`] naming the points or the directions.
pub fn check_neighbourhood(net: &Network, points: ArrayView2<f64>, hood: &Neighbourhood<'_>) -> Result<()> {
    check_points(net, points)?;
    let dirs = hood.directions;
    if dirs.ncols() != net.input_dim() || dirs.nrows() == 0 {
        return Err(Error::shape(
            "directions",
            format!("P x {}", net.input_dim()),
            format!("{:?}", dirs.dim()),
        ));
    }
    Ok(())
}

/// Checks the shape of a backend's output against what was asked for (a
/// third-party backend's answer is checked before it is sliced).
pub(crate) fn check_rows(what: &str, got: (usize, usize), want: (usize, usize)) -> Result<()> {
    if got != want {
        return Err(Error::shape(
            what,
            format!("{} x {}", want.0, want.1),
            format!("{} x {}", got.0, got.1),
        ));
    }
    Ok(())
}

/// Checks the arguments of [`Backend::affine_values`]: `a` is `k x D`, `c`
/// has `k` entries and the points have `D` columns.
///
/// # Errors
///
/// [`Error::Shape`] when the dimensions disagree.
///
/// # Examples
///
/// ```
/// use cpwl::backend::check_affine;
/// use ndarray::{array, Array2};
/// let (a, c) = (array![[1.0, 2.0]], array![0.5]);
/// assert!(check_affine(a.view(), c.view(), Array2::zeros((3, 2)).view()).is_ok());
/// assert!(check_affine(a.view(), c.view(), Array2::zeros((3, 1)).view()).is_err());
/// ```
pub fn check_affine(a: ArrayView2<f64>, c: ArrayView1<f64>, points: ArrayView2<f64>) -> Result<()> {
    if a.nrows() != c.len() || a.ncols() != points.ncols() {
        return Err(Error::shape(
            "affine map",
            format!("a: k x {}, c: k", points.ncols()),
            format!("a: {:?}, c: {}", a.dim(), c.len()),
        ));
    }
    Ok(())
}
