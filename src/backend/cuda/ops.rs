//! The [`crate::backend::Backend`] methods on the GPU: each cuts its batch
//! into chunks that fit the memory budget, uploads a chunk, runs the passes
//! and kernels, and copies the results into the host arrays.

use std::borrow::Cow;

use cudarc::driver::CudaSlice;
use ndarray::{s, Array2, Array3, ArrayView1, ArrayView2};

use super::device::{launch, Device, RowMajorGemm};
use super::error::CudaError;
use super::kernels::Kernel;
use super::passes::{DeviceNet, Seen};
use super::plan::{self, Step};
use crate::backend::{ForwardBatch, JacobianBatch, Keep, LesGramBatch, Neighbourhood};
use crate::network::{UnitKind, UnitLayer};
use crate::Network;

/// A `u64` kernel argument.
fn arg(v: usize) -> u64 {
    v as u64
}

/// The elements of a view in row-major order, borrowed when they already are.
fn row_major<'a, T: Clone, D: ndarray::Dimension>(x: &'a ndarray::ArrayView<'a, T, D>) -> Cow<'a, [T]> {
    match x.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.iter().cloned().collect()),
    }
}

/// The elements of a host view in memory order, for a download straight
/// into it. Every target here is a run of leading-axis rows of an array
/// the call made, so it is contiguous; anything else is a layout error.
fn host_slice<'a, T, D: ndarray::Dimension>(
    what: &'static str,
    target: ndarray::ArrayViewMut<'a, T, D>,
) -> Result<&'a mut [T], CudaError> {
    let len = target.len();
    target.into_slice().ok_or(CudaError::Layout {
        what,
        expected: len,
        got: 0,
    })
}

/// Where the points of a call come from: a host array (uploaded chunk by
/// chunk) or rows of a resident set (copied on the device).
pub(crate) enum PointSource<'a> {
    /// Points on the host, one per row.
    Host(ArrayView2<'a, f64>),
    /// `rows` points of a resident set, starting at row `first`.
    Resident {
        data: &'a CudaSlice<f64>,
        first: usize,
        rows: usize,
        dim: usize,
    },
}

impl PointSource<'_> {
    /// The number of points.
    pub(crate) fn rows(&self) -> usize {
        match self {
            PointSource::Host(x) => x.nrows(),
            PointSource::Resident { rows, .. } => *rows,
        }
    }

    /// Points `a..b` (of this source) in a fresh device buffer, row-major.
    pub(crate) fn chunk(&self, dev: &Device, a: usize, b: usize) -> Result<CudaSlice<f64>, CudaError> {
        match self {
            PointSource::Host(x) => dev.upload_values(&row_major(&x.slice(s![a..b, ..]))),
            PointSource::Resident { data, first, dim, .. } => {
                let range = (first + a) * dim..(first + b) * dim;
                if range.end > data.len() {
                    return Err(CudaError::Layout {
                        what: "resident points",
                        expected: range.end,
                        got: data.len(),
                    });
                }
                Ok(dev.stream().clone_dtod(&data.slice(range))?)
            }
        }
    }
}

/// The chunks `[a, b)` of `n` rows, `chunk` at a time.
fn chunks(n: usize, chunk: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(chunk.max(1))
        .map(move |a| (a, (a + chunk.max(1)).min(n)))
}

/// The columns of each nonlinearity's pre-activations, in pattern order.
fn pre_columns(steps: &[Step<'_>]) -> Vec<usize> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::TwoPiece { len, .. } => Some(*len),
            Step::Max { input_len, .. } => Some(*input_len),
            Step::Dense { .. } => None,
        })
        .collect()
}

/// [`crate::backend::Backend::forward`] on the GPU.
pub(crate) fn forward(
    dev: &Device,
    net: &Network,
    steps: &[Step<'_>],
    x: ArrayView2<f64>,
    keep: Keep,
    budget: usize,
) -> Result<ForwardBatch, CudaError> {
    let (n, d, m, units) = (x.nrows(), net.input_dim(), net.output_dim(), net.unit_count());
    let dnet = DeviceNet::upload(dev, steps, d, units)?;
    let mut outputs = Array2::zeros((n, m));
    let mut patterns = (keep != Keep::Outputs).then(|| Array2::<u8>::zeros((n, units)));
    let mut pre = (keep == Keep::PreActivations).then(|| {
        pre_columns(steps)
            .into_iter()
            .map(|cols| Array2::zeros((n, cols)))
            .collect::<Vec<_>>()
    });
    let chunk = plan::rows_per_chunk(budget, plan::forward_row_bytes(d, steps, units));
    for (a, b) in chunks(n, chunk) {
        let rows = b - a;
        let xs = dev.upload_values(&row_major(&x.slice(s![a..b, ..])))?;
        let mut choices = dev.zeros::<u8>(rows * units)?;
        let out = dnet.forward(dev, xs, rows, &mut choices, &mut |seen| {
            if let (Some(pre), Seen::Pre { layer, values, .. }) = (pre.as_mut(), seen) {
                let host = host_slice("pre-activations", pre[layer].slice_mut(s![a..b, ..]))?;
                dev.download_values_into("pre-activations", values, host)?;
            }
            Ok(())
        })?;
        let host = host_slice("outputs", outputs.slice_mut(s![a..b, ..]))?;
        dev.download_values_into("outputs", &out, host)?;
        if let Some(p) = patterns.as_mut() {
            dev.download_into(
                "patterns",
                &choices,
                host_slice("patterns", p.slice_mut(s![a..b, ..]))?,
            )?;
        }
    }
    Ok(ForwardBatch {
        outputs,
        patterns,
        pre_activations: pre,
    })
}

/// [`crate::backend::Backend::jacobians`] on the GPU, in reverse mode (one
/// covector per output, pulled back) when there are no more outputs than
/// inputs, else in forward mode (one tangent per input, pushed forward):
/// the work and memory scale with `min(outputs, inputs)`.
pub(crate) fn jacobians(
    dev: &Device,
    net: &Network,
    steps: &[Step<'_>],
    x: ArrayView2<f64>,
    budget: usize,
) -> Result<JacobianBatch, CudaError> {
    let (n, d, m, units) = (x.nrows(), net.input_dim(), net.output_dim(), net.unit_count());
    let dnet = DeviceNet::upload(dev, steps, d, units)?;
    let mut outputs = Array2::zeros((n, m));
    let mut patterns = Array2::<u8>::zeros((n, units));
    let mut jac = Array3::zeros((n, m, d));
    let reverse = m <= d;
    let seeds = m.min(d);
    let point_bytes =
        plan::forward_row_bytes(d, steps, units) + 2 * seeds * plan::widest(d, steps) * size_of::<f64>();
    let chunk = plan::rows_per_chunk(budget, point_bytes);
    let seeds_a = arg(seeds);
    for (a, b) in chunks(n, chunk) {
        let rows = b - a;
        let xs = dev.upload_values(&row_major(&x.slice(s![a..b, ..])))?;
        let mut choices = dev.zeros::<u8>(rows * units)?;
        let out = dnet.forward(dev, xs, rows, &mut choices, &mut |_| Ok(()))?;
        let mut seed = dev.zeros::<f64>(rows * seeds * seeds)?;
        let rows_a = arg(rows);
        // Sizes: seed is (rows seeds) x seeds.
        launch!(dev, Kernel::EyeBlocks, rows * seeds * seeds; &mut seed, &rows_a, &seeds_a);
        let host = host_slice("outputs", outputs.slice_mut(s![a..b, ..]))?;
        dev.download_values_into("outputs", &out, host)?;
        let host = host_slice("patterns", patterns.slice_mut(s![a..b, ..]))?;
        dev.download_into("patterns", &choices, host)?;
        let g = if reverse {
            dnet.reverse(dev, seed, rows * m, m, &choices)?
        } else {
            let t = dnet.tangent(dev, seed, rows * d, d, &choices)?;
            let mut g = dev.zeros::<f64>(rows * m * d)?;
            let (d_a, m_a) = (arg(d), arg(m));
            // Sizes: t holds rows blocks of d x m, g rows blocks of m x d.
            launch!(dev, Kernel::TransposeBlocks, rows * m * d; &t, &rows_a, &d_a, &m_a, &mut g);
            g
        };
        let host = host_slice("jacobians", jac.slice_mut(s![a..b, .., ..]))?;
        dev.download_values_into("jacobians", &g, host)?;
    }
    Ok(JacobianBatch {
        outputs,
        patterns,
        jacobians: jac,
    })
}

/// [`crate::backend::Backend::les_grams`] on the GPU: forward pass, one
/// tangent per latent dimension pushed forward, the Gram factor built from
/// the logits and tangents on the device, and one batched `X X^T`; only the
/// logits and the `d x d` matrices come back.
pub(crate) fn les_grams(
    dev: &Device,
    net: &Network,
    steps: &[Step<'_>],
    z: ArrayView2<f64>,
    seq_len: usize,
    vocab: usize,
    budget: usize,
) -> Result<LesGramBatch, CudaError> {
    let (n, d, m, units) = (z.nrows(), net.input_dim(), net.output_dim(), net.unit_count());
    let dnet = DeviceNet::upload(dev, steps, d, units)?;
    let width = m + seq_len;
    let mut outputs = Array2::zeros((n, m));
    let mut grams = Array3::zeros((n, d, d));
    let point_bytes = plan::forward_row_bytes(d, steps, units)
        + (2 * d * plan::widest(d, steps) + d * width + 2 * d * d) * size_of::<f64>();
    let chunk = plan::rows_per_chunk(budget, point_bytes);
    let (d_a, seq_a, vocab_a) = (arg(d), arg(seq_len), arg(vocab));
    for (a, b) in chunks(n, chunk) {
        let rows = b - a;
        let rows_a = arg(rows);
        let zs = dev.upload_values(&row_major(&z.slice(s![a..b, ..])))?;
        let mut choices = dev.zeros::<u8>(rows * units)?;
        let logits = dnet.forward(dev, zs, rows, &mut choices, &mut |_| Ok(()))?;
        let mut seed = dev.zeros::<f64>(rows * d * d)?;
        // Sizes: seed is (rows d) x d.
        launch!(dev, Kernel::EyeBlocks, rows * d * d; &mut seed, &rows_a, &d_a);
        let tangents = dnet.tangent(dev, seed, rows * d, d, &choices)?;
        let mut x = dev.zeros::<f64>(rows * d * width)?;
        // Sizes: logits is rows x m, tangents rows blocks of d x m, x rows
        // blocks of d x (m + seq_len), m = seq_len vocab.
        launch!(dev, Kernel::LesFactor, rows * seq_len;
            &logits, &tangents, &rows_a, &seq_a, &vocab_a, &d_a, &mut x);
        let mut g = dev.zeros::<f64>(rows * d * d)?;
        dev.gemm_batched(
            RowMajorGemm::nt(d, width, d),
            rows,
            [d * width, d * width, d * d],
            &x,
            &x,
            &mut g,
        )?;
        let host = host_slice("logits", outputs.slice_mut(s![a..b, ..]))?;
        dev.download_values_into("logits", &logits, host)?;
        let host = host_slice("grams", grams.slice_mut(s![a..b, .., ..]))?;
        dev.download_values_into("grams", &g, host)?;
    }
    Ok(LesGramBatch { outputs, grams })
}

/// How local complexity counts each nonlinearity (in pattern order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    /// Sign changes of the pre-activations, into this slot.
    Signs(usize),
    /// Arg-max changes of the choices, into this slot.
    Choices(usize),
    /// Not counted (max pooling).
    No,
}

/// The slot of every nonlinearity, as [`crate::backend::Backend::sign_changes`]
/// orders them: the layers the unit table marks as counted, in pattern order.
fn count_slots(units: &[UnitLayer]) -> Vec<Counted> {
    let mut next = 0;
    let mut take = || {
        next += 1;
        next - 1
    };
    units
        .iter()
        .map(|u| match (u.lc_counted, u.kind) {
            (false, _) => Counted::No,
            (true, UnitKind::TwoPiece(_)) => Counted::Signs(take()),
            (true, UnitKind::Max { .. }) => Counted::Choices(take()),
        })
        .collect()
}

/// [`crate::backend::Backend::sign_changes`] on the GPU: the vertices are
/// built on the device from the points (uploaded, or resident) and
/// directions, and only the counts come back.
pub(crate) fn sign_changes(
    dev: &Device,
    net: &Network,
    steps: &[Step<'_>],
    points: PointSource<'_>,
    hood: Neighbourhood<'_>,
    budget: usize,
) -> Result<Array2<u32>, CudaError> {
    let (n, d, m, units) = (points.rows(), net.input_dim(), net.output_dim(), net.unit_count());
    let p = hood.directions.nrows();
    let verts = 2 * p;
    let counted = count_slots(net.unit_layers());
    let hidden_slots = counted.iter().filter(|c| **c != Counted::No).count();
    let slots = hidden_slots + usize::from(hood.count_output);
    let mut counts = Array2::<u32>::zeros((n, slots));
    if slots == 0 {
        return Ok(counts);
    }
    let dnet = DeviceNet::upload(dev, steps, d, units)?;
    let dirs = dev.upload_values(&row_major(&hood.directions))?;
    let vertices = Vertices::new(dev, &dnet, dirs, hood.radius, d)?;
    // The vertices take `width` values each: the first layer's width when
    // it is folded, not the input dimension.
    let point_bytes = verts * (vertices.width * size_of::<f64>() + plan::forward_row_bytes(d, steps, units));
    let chunk = plan::rows_per_chunk(budget, point_bytes);
    let (verts_a, slots_a, stride_a) = (arg(verts), arg(slots), arg(units));
    for (a, b) in chunks(n, chunk) {
        let rows = b - a;
        let rows_a = arg(rows);
        let xs = points.chunk(dev, a, b)?;
        let (start, first) = vertices.build(dev, &dnet, xs, rows)?;
        let mut tally = dev.zeros::<u32>(rows * slots)?;
        let mut choices = dev.zeros::<u8>(rows * verts * units)?;
        let out = dnet.forward_from(dev, start, first, rows * verts, &mut choices, &mut |seen| {
            match seen {
                Seen::Pre { layer, values, cols } => {
                    if let Some(&Counted::Signs(slot)) = counted.get(layer) {
                        let (cols_a, slot_a) = (arg(cols), arg(slot));
                        // Sizes: values is (rows verts) x cols, tally rows x slots.
                        launch!(dev, Kernel::SignChanges, rows * cols;
                            values, &rows_a, &verts_a, &cols_a, &mut tally, &slot_a, &slots_a);
                    }
                }
                Seen::Chosen {
                    layer,
                    offset,
                    len,
                    choices,
                } => {
                    if let Some(&Counted::Choices(slot)) = counted.get(layer) {
                        let (offset_a, len_a, slot_a) = (arg(offset), arg(len), arg(slot));
                        // Sizes: choices is (rows verts) x units with
                        // offset + len <= units, tally rows x slots.
                        launch!(dev, Kernel::ChoiceChanges, rows * len;
                            choices, &rows_a, &verts_a, &stride_a, &offset_a, &len_a, &mut tally, &slot_a, &slots_a);
                    }
                }
            }
            Ok(())
        })?;
        if hood.count_output {
            let (m_a, slot_a) = (arg(m), arg(hidden_slots));
            // Sizes: out is (rows verts) x m, tally rows x slots.
            launch!(dev, Kernel::SignChanges, rows * m;
                &out, &rows_a, &verts_a, &m_a, &mut tally, &slot_a, &slots_a);
        }
        dev.download_into(
            "counts",
            &tally,
            host_slice("counts", counts.slice_mut(s![a..b, ..]))?,
        )?;
    }
    Ok(counts)
}

/// The neighbourhood vertices of local complexity, as the input of the
/// first step that needs them: folded through a first dense layer when the
/// network starts with one (`W (x +- r v) + b = (W x + b) +- r W v`, the
/// CPU backend's fold, so the widest GEMM runs once per point instead of
/// once per vertex), else the vertices themselves.
struct Vertices {
    /// The directions as the first step sees them: `v` (P x dim), or `W v`
    /// (P x width) when folding.
    steps: CudaSlice<f64>,
    /// Columns of `steps`.
    width: usize,
    /// The step the forward pass starts at: 1 when folding, else 0.
    start: usize,
    radius: f64,
    p: usize,
    dim: usize,
}

impl Vertices {
    fn new(
        dev: &Device,
        dnet: &DeviceNet,
        dirs: CudaSlice<f64>,
        radius: f64,
        dim: usize,
    ) -> Result<Self, CudaError> {
        let p = dirs.len() / dim.max(1);
        let (steps, width, start) = match dnet.first_dense() {
            Some((w, _, width)) => {
                let mut wv = dev.zeros::<f64>(p * width)?;
                dev.gemm(RowMajorGemm::nt(p, dim, width), &dirs, w, &mut wv)?;
                (wv, width, 1)
            }
            None => (dirs, dim, 0),
        };
        Ok(Vertices {
            steps,
            width,
            start,
            radius,
            p,
            dim,
        })
    }

    /// The step to start the forward pass at and its input, `rows` points
    /// times 2P vertices, point-major.
    fn build(
        &self,
        dev: &Device,
        dnet: &DeviceNet,
        xs: CudaSlice<f64>,
        rows: usize,
    ) -> Result<(usize, CudaSlice<f64>), CudaError> {
        let (rows_a, p_a, width_a) = (arg(rows), arg(self.p), arg(self.width));
        let base = match (self.start, dnet.first_dense()) {
            (1, Some((w, bias, _))) => {
                let mut z = dev.zeros::<f64>(rows * self.width)?;
                dev.gemm(RowMajorGemm::nt(rows, self.dim, self.width), &xs, w, &mut z)?;
                // Sizes: z is rows x width, bias has width entries.
                launch!(dev, Kernel::AddBias, rows * self.width; &mut z, bias, &rows_a, &width_a);
                z
            }
            _ => xs,
        };
        let radius = self.radius;
        let mut first = dev.zeros::<f64>(rows * 2 * self.p * self.width)?;
        // Sizes: base is rows x width, steps p x width, first (rows 2p) x width.
        launch!(dev, Kernel::Neighbourhood, rows * 2 * self.p * self.width;
            &base, &self.steps, &radius, &rows_a, &p_a, &width_a, &mut first);
        Ok((self.start, first))
    }
}

/// [`crate::backend::Backend::affine_values`] on the GPU (shapes checked
/// by the caller): per chunk of points one cuBLAS DGEMM with `a` and the
/// bias kernel, as a dense layer of [`crate::backend::Backend::forward`].
pub(crate) fn affine_values(
    dev: &Device,
    a: ArrayView2<f64>,
    c: ArrayView1<f64>,
    points: ArrayView2<f64>,
    budget: usize,
) -> Result<Array2<f64>, CudaError> {
    let (n, dim) = points.dim();
    let k = a.nrows();
    if dim == 0 {
        // No products: every row is the offsets (and cuBLAS takes no empty inner dimension).
        return Ok(Array2::from_shape_fn((n, k), |(_, j)| c[j]));
    }
    let mut values = Array2::<f64>::zeros((n, k));
    if n == 0 || k == 0 {
        return Ok(values);
    }
    let ad = dev.upload_values(&row_major(&a))?;
    let cd = dev.upload_values(&row_major(&c))?;
    let chunk = plan::rows_per_chunk(budget, (dim + k) * size_of::<f64>());
    let k_a = arg(k);
    for (s0, s1) in chunks(n, chunk) {
        let rows = s1 - s0;
        let pd = dev.upload_values(&row_major(&points.slice(s![s0..s1, ..])))?;
        let mut out = dev.zeros::<f64>(rows * k)?;
        dev.gemm(RowMajorGemm::nt(rows, dim, k), &pd, &ad, &mut out)?;
        let rows_a = arg(rows);
        // Sizes: out is rows x k, cd has k entries.
        launch!(dev, Kernel::AddBias, rows * k; &mut out, &cd, &rows_a, &k_a);
        dev.download_into(
            "affine values",
            &out,
            host_slice("affine values", values.slice_mut(s![s0..s1, ..]))?,
        )?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn count_slots_skip_pooling_and_follow_pattern_order() {
        let net = crate::test_support::pooled_relu_maxout();
        assert_eq!(
            count_slots(net.unit_layers()),
            vec![Counted::No, Counted::Signs(0), Counted::Choices(1)]
        );
        let steps = plan::steps(&net).expect("pooling over flat windows runs on the GPU");
        assert_eq!(pre_columns(&steps), vec![16, 4, 4]);
    }

    #[test]
    fn chunks_tile_the_rows() {
        let got: Vec<_> = chunks(10, 4).collect();
        assert_eq!(got, vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(chunks(0, 4).count(), 0);
        assert_eq!(chunks(3, 0).count(), 3);
    }

    #[test]
    fn row_major_copies_only_strided_views() {
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        assert!(matches!(row_major(&x.view()), Cow::Borrowed(_)));
        let t = x.t();
        let copied = row_major(&t);
        assert!(matches!(copied, Cow::Owned(_)));
        assert_eq!(&*copied, &[1.0, 3.0, 2.0, 4.0]);
    }
}
