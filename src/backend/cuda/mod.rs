//! The CUDA backend (feature `cuda`): every [`Backend`] kernel on an NVIDIA
//! GPU, in `f64`.
//!
//! - [`device`]: the context, stream and cuBLAS handle of one GPU, with a
//!   cache that compiles each kernel module (NVRTC) and loads it once.
//! - [`kernels`]: the CUDA C sources, one `.cu` file per kernel family.
//! - [`plan`]: which networks run on the GPU, and the chunk sizes.
//! - [`passes`]: forward and reverse passes through a network on the device.
//! - [`ops`]: the trait methods on the device, chunk by chunk.
//! - [`resident`]: point sets kept in device memory between calls.
//! - [`error`]: the device errors, boxed into [`Error::Backend`].

mod device;
mod error;
mod kernels;
mod ops;
mod passes;
mod plan;
mod resident;
mod staging;

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::{check_affine, check_neighbourhood, check_points};
use super::{
    les, Backend, CpuBackend, ForwardBatch, JacobianBatch, Keep, LesGramBatch, Neighbourhood, PreparedPoints,
};
use crate::{Error, Network, Result};
use device::Device;
use error::CudaError;
use ops::PointSource;
use resident::ResidentPoints;

/// The CUDA backend: the batched kernels on one NVIDIA GPU, in `f64`.
///
/// # Semantics
///
/// Networks made of dense layers, two-piece activations (ReLU, leaky ReLU,
/// absolute value) and max units (maxout, max pooling over flat inputs) run
/// on the GPU: cuBLAS DGEMM for the dense layers, run-time-compiled kernels
/// for the biases, activations and pattern recording, the sign-change
/// counts and the reverse-pass masking. Networks with
/// other layers (convolution, average pooling, batch norm that could not be
/// folded, residual blocks) are computed by a [`CpuBackend`] inside each
/// call, with the same answers; [`CudaBackend::runs_on_device`] says which
/// path a network takes. [`Backend::affine_values`] always runs on the
/// GPU (DGEMM and the bias kernel), and the scores take [`Backend::les_grams`] for LES whenever the
/// decoder runs on the GPU ([`Backend::prefers_les_grams`]).
///
/// A point set prepared with [`Backend::prepare_points`] (through
/// `cpwl::lc::prepare_points`) stays in device memory until the
/// [`PreparedPoints`] is dropped; [`Backend::sign_changes_prepared`] reads
/// it there for every network, so local complexity at many training
/// checkpoints uploads the points once. The set must fit in device memory
/// next to the working buffers.
///
/// Element-wise work repeats the CPU backend's IEEE operations exactly
/// (kernels are compiled without multiply-add contraction), so
/// neighbourhood vertices and the signs of equal pre-activations agree bit
/// for bit; the GEMMs sum in another order than faer, so values agree to
/// about `1e-15` relative, and a pattern could differ only for a
/// pre-activation within that distance of zero.
///
/// Calls on one backend are serialised (one stream, one cuBLAS handle);
/// each call cuts its batch into chunks that fit the memory budget
/// ([`CudaBackend::with_chunk_bytes`]).
///
/// # Examples
///
/// ```
/// use cpwl::backend::{Backend, CudaBackend, Keep};
/// use cpwl::Network;
/// use ndarray::array;
///
/// let net = Network::builder(2)
///     .dense(array![[1.0, -1.0], [1.0, 1.0]], array![0.0, -1.0])?
///     .relu()
///     .dense(array![[1.0, 1.0]], array![0.0])?
///     .build()?;
/// match CudaBackend::new(0) {
///     Ok(gpu) => {
///         let out = gpu.forward(&net, array![[2.0, 0.5]].view(), Keep::Patterns)?;
///         assert_eq!(out.outputs[[0, 0]], 3.0);
///     }
///     Err(e) => println!("skipping: {e}"),
/// }
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone)]
pub struct CudaBackend {
    device: Arc<Device>,
    name: String,
    chunk_bytes: usize,
    fallback: CpuBackend,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("name", &self.name)
            .field("card", &self.device.card())
            .field("chunk_bytes", &self.chunk_bytes)
            .finish()
    }
}

impl CudaBackend {
    /// Device memory one call may use for its working buffers, by default
    /// (1 GiB; batches are cut into chunks that fit).
    pub const DEFAULT_CHUNK_BYTES: usize = 1 << 30;

    /// Opens GPU `ordinal` (0 for the first).
    ///
    /// The driver, NVRTC and cuBLAS libraries are looked up and the devices
    /// counted before any context is created; kernels are compiled on first
    /// use.
    ///
    /// # Errors
    ///
    /// [`Error::BackendUnavailable`] when a CUDA library is missing, the
    /// driver does not start, there is no device `ordinal`, or the context
    /// or cuBLAS handle cannot be created.
    ///
    /// # Panics
    ///
    /// Never: a panic inside the CUDA bindings is caught and reported as
    /// [`Error::BackendUnavailable`].
    pub fn new(ordinal: usize) -> Result<CudaBackend> {
        let name = format!("cuda:{ordinal}");
        let opened = catch_unwind(|| {
            device::probe(ordinal)?;
            Device::open(ordinal).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|payload| Err(CudaError::from_panic(payload).to_string()));
        match opened {
            Ok(device) => Ok(CudaBackend {
                device: Arc::new(device),
                name,
                chunk_bytes: Self::DEFAULT_CHUNK_BYTES,
                fallback: CpuBackend::default(),
            }),
            Err(reason) => Err(Error::BackendUnavailable { name, reason }),
        }
    }

    /// The card's name, as the driver reports it (for example
    /// `"NVIDIA H100 80GB HBM3"`).
    pub fn card(&self) -> &str {
        self.device.card()
    }

    /// The same backend with large `f64` copies between host and device
    /// going through page-locked staging buffers (`true`, the default: 32
    /// MiB of pinned memory, allocated on first use) or straight from
    /// pageable memory (`false`). The setting belongs to the device, so it
    /// applies to every clone of this backend.
    pub fn with_pinned_staging(self, on: bool) -> Self {
        self.device.set_staging(on);
        self
    }

    /// The same backend with another memory budget per call, in bytes (at
    /// least one row or point is processed per chunk whatever the budget).
    pub fn with_chunk_bytes(self, bytes: usize) -> Self {
        CudaBackend {
            chunk_bytes: bytes,
            ..self
        }
    }

    /// Whether the network-based kernels run on the GPU for `net` (true when
    /// every layer is dense, two-piece or max); otherwise they run on the
    /// CPU backend.
    pub fn runs_on_device(net: &Network) -> bool {
        plan::steps(net).is_some()
    }

    /// The resident copy of `prepared` when this backend's device holds it.
    fn resident<'p>(&self, prepared: &'p PreparedPoints) -> Option<&'p ResidentPoints> {
        prepared
            .resident()?
            .downcast_ref::<ResidentPoints>()
            .filter(|r| r.is_on(&self.device))
    }

    /// Runs `f` on the device, turning device errors and caught panics into
    /// [`Error::Backend`].
    fn run<T>(&self, f: impl FnOnce(&Device) -> Result<T, CudaError>) -> Result<T> {
        catch_unwind(AssertUnwindSafe(|| {
            let _session = self.device.session()?;
            f(&self.device)
        }))
        .unwrap_or_else(|payload| Err(CudaError::from_panic(payload)))
        .map_err(|e| Error::Backend {
            name: self.name.clone(),
            source: Box::new(e),
        })
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        check_points(net, x)?;
        match plan::steps(net) {
            Some(steps) => self.run(|dev| ops::forward(dev, net, &steps, x, keep, self.chunk_bytes)),
            None => self.fallback.forward(net, x, keep),
        }
    }

    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        check_points(net, x)?;
        match plan::steps(net) {
            Some(steps) => self.run(|dev| ops::jacobians(dev, net, &steps, x, self.chunk_bytes)),
            None => self.fallback.jacobians(net, x),
        }
    }

    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        check_neighbourhood(net, points, &hood)?;
        match plan::steps(net) {
            Some(steps) => self.run(|dev| {
                ops::sign_changes(
                    dev,
                    net,
                    &steps,
                    PointSource::Host(points),
                    hood,
                    self.chunk_bytes,
                )
            }),
            None => self.fallback.sign_changes(net, points, hood),
        }
    }

    fn prepare_points(&self, points: Array2<f64>) -> Result<PreparedPoints> {
        let resident = self.run(|_| ResidentPoints::upload(&self.device, points.view()))?;
        Ok(PreparedPoints::with_resident(points, Box::new(resident)))
    }

    fn sign_changes_prepared(
        &self,
        net: &Network,
        prepared: &PreparedPoints,
        rows: Range<usize>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        let host = prepared.rows(rows.clone())?;
        check_neighbourhood(net, host, &hood)?;
        match (plan::steps(net), self.resident(prepared)) {
            (Some(steps), Some(kept)) => self
                .run(|dev| ops::sign_changes(dev, net, &steps, kept.source(rows)?, hood, self.chunk_bytes)),
            _ => self.sign_changes(net, host, hood),
        }
    }

    fn les_grams(
        &self,
        decoder: &Network,
        z: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Result<LesGramBatch> {
        les::check_les(decoder, z, seq_len, vocab)?;
        match plan::steps(decoder) {
            Some(steps) => {
                self.run(|dev| ops::les_grams(dev, decoder, &steps, z, seq_len, vocab, self.chunk_bytes))
            }
            None => self.fallback.les_grams(decoder, z, seq_len, vocab),
        }
    }

    fn prefers_les_grams(&self, decoder: &Network) -> bool {
        Self::runs_on_device(decoder)
    }

    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        check_affine(a, c, points)?;
        self.run(|dev| ops::affine_values(dev, a, c, points, self.chunk_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_reports_unavailability_instead_of_panicking() {
        match CudaBackend::new(0) {
            Ok(gpu) => assert_eq!(gpu.name(), "cuda:0"),
            Err(Error::BackendUnavailable { name, reason }) => {
                assert_eq!(name, "cuda:0");
                assert!(!reason.is_empty());
                eprintln!("skipping: {reason}");
            }
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }

    #[test]
    fn absurd_ordinals_are_unavailable() {
        assert!(matches!(
            CudaBackend::new(1 << 20),
            Err(Error::BackendUnavailable { .. })
        ));
    }
}
