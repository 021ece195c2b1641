//! The CPU backend: rayon over chunks of the batch, faer GEMM inside, pulp
//! SIMD kernels ([`crate::kernels::simd`]) for the element-wise work.

pub(crate) mod blocks;
mod hood;
mod jacobian;
// One `madvise` call for large results (see its SAFETY note).
#[allow(unsafe_code)]
mod pages;
mod real;
mod scratch;
#[cfg(test)]
mod tests;

pub(crate) use jacobian::ForwardJacobian;
mod vertices;

use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::{check_affine, check_neighbourhood, check_points};
use super::{Backend, ForwardBatch, JacobianBatch, Keep, Neighbourhood, Precision};
use crate::kernels::simd;
use crate::network::eval::{self, Recorder};
use crate::network::{UnitKind, UnitLayer};
use crate::{Error, Network, Result};
use real::Real;
use scratch::{Buffers, MlpProgram};

/// Values (pre-activations of all vertices of a task's points) that one task
/// of [`CpuBackend::sign_changes`] keeps at most, unless a single point needs
/// more: 4 MB, so that the buffers stay in cache and in the allocator's heap instead of
/// being mapped and page-faulted afresh for every task.
const VERTEX_VALUES_PER_TASK: usize = 1 << 19;

/// The default backend: the batch is cut into chunks processed in parallel on
/// rayon's pool, each with single-threaded faer GEMMs, so that memory stays
/// bounded by the chunk size and results do not depend on the thread count.
///
/// It computes in `f64` unless built [`CpuBackend::with_precision`]
/// [`Precision::F32`], which runs [`Backend::forward`] and
/// [`Backend::sign_changes`] of plain MLPs in `f32` (see [`Precision`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuBackend {
    chunk: usize,
    parallel: bool,
    precision: Precision,
}

impl Default for CpuBackend {
    fn default() -> Self {
        CpuBackend {
            chunk: Self::DEFAULT_CHUNK,
            parallel: true,
            precision: Precision::F64,
        }
    }
}

impl CpuBackend {
    /// Points per task of [`CpuBackend::default`] (and of a run whose
    /// [`crate::run::RunOptions::chunk`] is `None`).
    pub const DEFAULT_CHUNK: usize = 256;

    /// A backend that runs on the calling thread only.
    pub fn serial() -> Self {
        CpuBackend {
            parallel: false,
            ..Self::default()
        }
    }

    /// The points per task (the chunk size).
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::backend::CpuBackend;
    /// assert_eq!(CpuBackend::default().chunk(), CpuBackend::DEFAULT_CHUNK);
    /// assert_eq!(CpuBackend::serial().with_chunk(0).chunk(), 1);
    /// ```
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// The same backend with another chunk size (points per task; at least 1).
    pub fn with_chunk(self, chunk: usize) -> Self {
        CpuBackend {
            chunk: chunk.max(1),
            ..self
        }
    }

    /// The same backend computing its forward passes and sign tests in
    /// `precision` ([`Precision::F64`] by default). Jacobians, LES Gram
    /// matrices and affine maps ([`Backend::affine_values`]) stay in `f64`
    /// whatever the choice.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::backend::{Backend, CpuBackend, Precision};
    /// let cpu = CpuBackend::default().with_precision(Precision::F32);
    /// assert_eq!(cpu.precision(), Precision::F32);
    /// ```
    pub fn with_precision(self, precision: Precision) -> Self {
        CpuBackend { precision, ..self }
    }

    /// The precision of the forward passes and sign tests.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Whether forward mode gives the Jacobians of `net` (more outputs than
    /// inputs, as for decoders), so that [`ForwardJacobian`] is the cheap route.
    pub(crate) fn prefers_forward_mode(net: &Network) -> bool {
        net.output_dim() > net.input_dim()
    }

    /// Runs `f` on every chunk of rows and concatenates the results in order.
    fn map_chunks<T: Send>(&self, n: usize, f: impl Fn(usize, usize) -> T + Sync) -> Vec<T> {
        self.map_chunks_of(self.chunk, n, f)
    }

    /// Runs `f` on every task, in parallel unless the backend is serial.
    fn run_tasks<T: Send>(&self, tasks: Vec<T>, f: impl Fn(T) + Sync + Send) {
        if self.parallel {
            tasks.into_par_iter().for_each(f);
        } else {
            tasks.into_iter().for_each(f);
        }
    }

    /// Outputs and patterns (when `patterns` is given) of a plain MLP,
    /// written by each task straight into the rows of the results.
    fn mlp_forward<T: Buffers>(
        &self,
        prog: &MlpProgram<'_, T>,
        x: ArrayView2<f64>,
        outputs: &mut Array2<f64>,
        patterns: Option<&mut Array2<u8>>,
    ) {
        let chunk = self.chunk;
        let outs = outputs.axis_chunks_iter_mut(Axis(0), chunk);
        let pats: Vec<Option<ArrayViewMut2<u8>>> = match patterns {
            Some(p) => p.axis_chunks_iter_mut(Axis(0), chunk).map(Some).collect(),
            None => (0..x.nrows().div_ceil(chunk)).map(|_| None).collect(),
        };
        let tasks: Vec<_> = x.axis_chunks_iter(Axis(0), chunk).zip(outs).zip(pats).collect();
        self.run_tasks(tasks, |((x, out), pat)| mlp_forward_into(prog, x, pat, out));
    }

    /// [`Self::map_chunks`] with chunks of `chunk` rows.
    fn map_chunks_of<T: Send>(&self, chunk: usize, n: usize, f: impl Fn(usize, usize) -> T + Sync) -> Vec<T> {
        let chunk = chunk.max(1);
        let starts: Vec<usize> = (0..n).step_by(chunk).collect();
        let run = |&s: &usize| f(s, (s + chunk).min(n));
        if self.parallel {
            starts.par_iter().map(run).collect()
        } else {
            starts.iter().map(run).collect()
        }
    }
}

fn forward_chunk(net: &Network, x: ArrayView2<f64>, keep: Keep) -> ForwardBatch {
    let steps = net.program().steps();
    if let Some(prog) = MlpProgram::<f64>::new(steps) {
        return mlp_forward_chunk(&prog, net.unit_count(), x, keep);
    }
    let mut choices = Array2::zeros((x.nrows(), net.unit_count()));
    let mut pre = Vec::new();
    let mut rec = Recorder {
        choices: choices.view_mut(),
        pre: (keep == Keep::PreActivations).then_some(&mut pre),
    };
    let outputs = eval::forward(steps, x.to_owned(), &mut rec);
    ForwardBatch {
        outputs,
        patterns: (keep != Keep::Outputs).then_some(choices),
        pre_activations: (keep == Keep::PreActivations).then_some(pre),
    }
}

/// [`forward_chunk`] of a plain MLP in `T`, in the thread's reused buffers:
/// only the results are allocated (as `f64`).
fn mlp_forward_chunk<T: Buffers>(
    prog: &MlpProgram<'_, T>,
    units: usize,
    x: ArrayView2<f64>,
    keep: Keep,
) -> ForwardBatch {
    let mut choices = Array2::zeros((x.nrows(), units));
    let mut pre = Vec::new();
    let keep_pre = keep == Keep::PreActivations;
    let mut record = |_: &crate::network::TwoPiece, z: ArrayView2<T>| pre.push(z.mapv(T::to_f64));
    let visit: Option<scratch::Visit<'_, T>> = keep_pre.then_some(&mut record);
    let outputs = scratch::mlp_pass(prog, x, Some(choices.view_mut()), visit, |out| {
        out.mapv(T::to_f64)
    });
    ForwardBatch {
        outputs,
        patterns: (keep != Keep::Outputs).then_some(choices),
        pre_activations: keep_pre.then_some(pre),
    }
}

/// The outputs (and patterns, when `choices` is given) of the rows `x` of a
/// plain MLP in `T`, written into `out` and `choices`.
fn mlp_forward_into<T: Buffers>(
    prog: &MlpProgram<'_, T>,
    x: ArrayView2<f64>,
    choices: Option<ArrayViewMut2<u8>>,
    mut out: ArrayViewMut2<f64>,
) {
    scratch::mlp_pass(prog, x, choices, None, |z| {
        out.zip_mut_with(&z, |o, &v| *o = v.to_f64())
    });
}

fn concat_rows<T: Clone + Default>(parts: Vec<Array2<T>>, cols: usize) -> Array2<T> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    if views.is_empty() {
        return Array2::from_elem((0, cols), T::default());
    }
    ndarray::concatenate(Axis(0), &views).expect("chunks share their column count")
}

impl CpuBackend {
    /// Joins the per-chunk results of [`forward_chunk`].
    fn join_parts(&self, net: &Network, parts: Vec<ForwardBatch>, keep: Keep) -> ForwardBatch {
        let mut outputs = Vec::with_capacity(parts.len());
        let mut patterns = Vec::with_capacity(parts.len());
        let mut pre: Vec<Vec<Array2<f64>>> = Vec::with_capacity(parts.len());
        for part in parts {
            outputs.push(part.outputs);
            patterns.extend(part.patterns);
            pre.extend(part.pre_activations);
        }
        let layer_count = net.unit_layers().len();
        let pre_activations = (keep == Keep::PreActivations).then(|| {
            (0..layer_count)
                .map(|l| {
                    let cols = pre.first().map_or(0, |p| p[l].ncols());
                    concat_rows(pre.iter().map(|p| p[l].clone()).collect(), cols)
                })
                .collect()
        });
        ForwardBatch {
            outputs: concat_rows(outputs, net.output_dim()),
            patterns: (keep != Keep::Outputs).then(|| concat_rows(patterns, net.unit_count())),
            pre_activations,
        }
    }

    /// [`Backend::forward`] of a plain MLP in `T`: outputs and patterns
    /// written straight into the results, pre-activations joined per chunk.
    fn mlp_batch<T: Buffers>(
        &self,
        net: &Network,
        prog: &MlpProgram<'_, T>,
        x: ArrayView2<f64>,
        keep: Keep,
    ) -> ForwardBatch {
        if keep == Keep::PreActivations {
            let units = net.unit_count();
            let parts = self.map_chunks(x.nrows(), |a, b| {
                mlp_forward_chunk(prog, units, x.slice(s![a..b, ..]), keep)
            });
            return self.join_parts(net, parts, keep);
        }
        let mut outputs = Array2::zeros((x.nrows(), net.output_dim()));
        let mut patterns = (keep == Keep::Patterns).then(|| Array2::zeros((x.nrows(), net.unit_count())));
        self.mlp_forward(prog, x, &mut outputs, patterns.as_mut());
        ForwardBatch {
            outputs,
            patterns,
            pre_activations: None,
        }
    }

    /// [`Backend::jacobians`] of a plain MLP in reverse mode: each task runs
    /// its chunk of points forward, then back in blocks, in the thread's
    /// buffers, and writes outputs, patterns and Jacobians straight into the
    /// results.
    fn mlp_jacobians(
        &self,
        net: &Network,
        prog: &jacobian::ReverseMlp<'_>,
        x: ArrayView2<f64>,
    ) -> Result<JacobianBatch> {
        let (n, m, d) = (x.nrows(), net.output_dim(), net.input_dim());
        let mut outputs = Array2::zeros((n, m));
        let mut patterns = Array2::zeros((n, net.unit_count()));
        let mut jacobians = pages::large_zeros(n * m * d);
        // The forward pass runs at the whole chunk (GEMMs of `chunk` rows);
        // the pull-back goes block by block within it. Each task's
        // Jacobians are a slice of the flat values (contiguous by
        // construction); an empty network side yields empty slices.
        let chunk = self.chunk;
        let jac_chunks = jacobians
            .chunks_mut((chunk * m * d).max(1))
            .chain(std::iter::repeat_with(<&mut [f64]>::default));
        let tasks: Vec<_> = x
            .axis_chunks_iter(Axis(0), chunk)
            .zip(outputs.axis_chunks_iter_mut(Axis(0), chunk))
            .zip(patterns.axis_chunks_iter_mut(Axis(0), chunk))
            .zip(jac_chunks)
            .collect();
        self.run_tasks(tasks, |(((x, out), mut pat), jac)| {
            mlp_forward_into(prog.program(), x, Some(pat.view_mut()), out);
            prog.pull_back(pat.view(), jac);
        });
        let jacobians = ndarray::Array3::from_shape_vec((n, m, d), jacobians)
            .map_err(|e| Error::invalid("jacobian layout", e.to_string()))?;
        Ok(JacobianBatch {
            outputs,
            patterns,
            jacobians,
        })
    }

    /// Jacobians chunk by chunk through the generic evaluator (or forward
    /// mode), joined at the end.
    fn chunked_jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        let (m, d) = (net.output_dim(), net.input_dim());
        let parts = self.map_chunks(x.nrows(), |a, b| {
            jacobian::jacobian_chunk(net, x.slice(s![a..b, ..]))
        });
        let n = x.nrows();
        let mut outputs = Vec::new();
        let mut patterns = Vec::new();
        let mut jacs = Vec::new();
        for (o, p, j) in parts {
            outputs.push(o);
            patterns.push(p);
            jacs.push(j);
        }
        let jac = concat_rows(jacs, d)
            .into_shape_with_order((n, m, d))
            .map_err(|e| Error::invalid("jacobian layout", e.to_string()))?;
        Ok(JacobianBatch {
            outputs: concat_rows(outputs, m),
            patterns: concat_rows(patterns, net.unit_count()),
            jacobians: jac,
        })
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &str {
        "cpu"
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        check_points(net, x)?;
        let steps = net.program().steps();
        if self.precision == Precision::F32 {
            if let Some(prog) = MlpProgram::<f32>::new(steps) {
                return Ok(self.mlp_batch(net, &prog, x, keep));
            }
        }
        if keep != Keep::PreActivations {
            if let Some(prog) = MlpProgram::<f64>::new(steps) {
                return Ok(self.mlp_batch(net, &prog, x, keep));
            }
        }
        let parts = self.map_chunks(x.nrows(), |a, b| forward_chunk(net, x.slice(s![a..b, ..]), keep));
        Ok(self.join_parts(net, parts, keep))
    }

    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        check_points(net, x)?;
        if !Self::prefers_forward_mode(net) {
            if let Some(prog) = jacobian::ReverseMlp::new(net) {
                return self.mlp_jacobians(net, &prog, x);
            }
        }
        self.chunked_jacobians(net, x)
    }

    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        check_neighbourhood(net, points, &hood)?;
        let dirs = hood.directions;
        let counted = counted_layers(net);
        let layers_out = counted.len() + usize::from(hood.count_output);
        let f32_route = (self.precision == Precision::F32)
            .then(|| hood::LinearHood::<f32>::new(net, dirs, hood.radius))
            .flatten();
        let f64_route = f32_route
            .is_none()
            .then(|| hood::LinearHood::<f64>::new(net, dirs, hood.radius))
            .flatten();
        let chunk = if f32_route.is_some() || f64_route.is_some() {
            self.chunk.min(vertices::FOLDED_POINTS_PER_TASK)
        } else {
            // Every vertex keeps its pre-activations at every layer: bound the
            // points per task so that they stay within VERTEX_VALUES_PER_TASK.
            let per_point = 2 * dirs.nrows() * (net.unit_count() + net.output_dim()).max(1);
            self.chunk.min(VERTEX_VALUES_PER_TASK / per_point)
        };
        let parts = self.map_chunks_of(chunk, points.nrows(), |a, b| {
            let pts = points.slice(s![a..b, ..]);
            if let Some(linear) = &f32_route {
                return linear.count_changes(pts, &counted, hood.count_output);
            }
            if let Some(linear) = &f64_route {
                return linear.count_changes(pts, &counted, hood.count_output);
            }
            let fwd = vertices::vertex_forward(net, pts, dirs, hood.radius);
            count_changes(
                &fwd,
                &counted,
                hood.count_output,
                2 * dirs.nrows(),
                b - a,
                layers_out,
            )
        });
        Ok(concat_rows(parts, layers_out))
    }

    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        check_affine(a, c, points)?;
        // The layer as the f64 MLP route runs a dense step (same chunks, same
        // GEMM, then the offsets): the values of a forward pass, bit for bit.
        let prog = MlpProgram::<f64> {
            layers: vec![scratch::MlpLayer::Dense {
                w: a.into(),
                b: f64::cast1(c),
            }],
        };
        let mut values = Array2::zeros((points.nrows(), a.nrows()));
        self.mlp_forward(&prog, points, &mut values, None);
        Ok(values)
    }
}

/// The nonlinearities LC counts (the unit table's rule), with their index in
/// pattern order.
fn counted_layers(net: &Network) -> Vec<(usize, UnitLayer)> {
    net.program().lc_layers().map(|(i, l)| (i, *l)).collect()
}

/// The 2P vertices of each point's cross-polytope, point-major.
fn neighbourhood_vertices(points: ArrayView2<f64>, dirs: ArrayView2<f64>, radius: f64) -> Array2<f64> {
    let p = dirs.nrows();
    let mut verts = Array2::zeros((points.nrows() * 2 * p, points.ncols()));
    for (i, x) in points.outer_iter().enumerate() {
        for (k, v) in dirs.outer_iter().enumerate() {
            let step = &v * radius;
            verts.row_mut(i * 2 * p + k).assign(&(&x + &step));
            verts.row_mut(i * 2 * p + p + k).assign(&(&x - &step));
        }
    }
    verts
}

/// Counts, per point and counted layer, the units whose sign (or arg-max) at
/// some vertex differs from the first vertex's.
fn count_changes(
    fwd: &ForwardBatch,
    counted: &[(usize, UnitLayer)],
    count_output: bool,
    verts: usize,
    points: usize,
    layers_out: usize,
) -> Array2<u32> {
    let mut counts = Array2::zeros((points, layers_out));
    let pre = fwd.pre_activations.as_deref().unwrap_or(&[]);
    for p in 0..points {
        let rows = p * verts..(p + 1) * verts;
        for (slot, (l, info)) in counted.iter().enumerate() {
            counts[[p, slot]] = match (info.kind, fwd.patterns.as_ref()) {
                (UnitKind::Max { .. }, Some(pat)) => {
                    first_choice_changes(pat.slice(s![rows.clone(), info.offset..info.offset + info.len]))
                }
                _ => simd::first_row_changes(pre[*l].slice(s![rows.clone(), ..])),
            };
        }
        if count_output {
            counts[[p, counted.len()]] = simd::first_row_changes(fwd.outputs.slice(s![rows, ..]));
        }
    }
    counts
}

/// The number of columns where some row differs from the first row (arg-max
/// choices of max units), walking the rows in memory order.
fn first_choice_changes(z: ArrayView2<u8>) -> u32 {
    let Some(first) = z.rows().into_iter().next() else {
        return 0;
    };
    let mut changed = vec![false; z.ncols()];
    for row in z.rows().into_iter().skip(1) {
        for ((c, a), b) in changed.iter_mut().zip(row).zip(first) {
            *c |= a != b;
        }
    }
    changed.iter().filter(|&&c| c).count() as u32
}
