//! The GPU state of one backend: context, stream, cuBLAS handle and the
//! kernel modules, each compiled and loaded once on first use; plus the
//! row-major GEMM wrapper and the launch helper every pass goes through.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, DeviceRepr,
    LaunchConfig, ValidAsZeroBits,
};

use super::error::CudaError;
use super::kernels::{Kernel, Module};
use super::staging::{Staging, MIN_STAGED};

/// A layout error unless a device buffer of `got` elements holds the
/// `needed` a copy reads from it.
fn check_source_len(what: &'static str, got: usize, needed: usize) -> Result<(), CudaError> {
    if got < needed {
        return Err(CudaError::Layout {
            what,
            expected: needed,
            got,
        });
    }
    Ok(())
}

/// Threads per block of every custom kernel.
const BLOCK: u32 = 256;

/// Most blocks a launch uses; the kernels' grid-stride loops cover the rest.
const MAX_BLOCKS: u64 = 1 << 16;

/// Checks that the driver, NVRTC and cuBLAS libraries can be loaded and
/// that device `ordinal` exists, without creating a context. The error is
/// the reason, for [`crate::Error::BackendUnavailable`].
pub(crate) fn probe(ordinal: usize) -> Result<(), String> {
    // SAFETY: `is_culib_present` only tries to open the driver library by
    // its usual names with `dlopen`; it calls no CUDA function.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("the CUDA driver library (libcuda) was not found".into());
    }
    // SAFETY: as above, for the NVRTC library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err("the NVRTC library (libnvrtc) was not found".into());
    }
    // SAFETY: as above, for the cuBLAS library.
    if !unsafe { cudarc::cublas::sys::is_culib_present() } {
        return Err("the cuBLAS library (libcublas) was not found".into());
    }
    let count = CudaContext::device_count().map_err(|e| format!("the CUDA driver did not start: {e}"))?;
    let count = usize::try_from(count).unwrap_or(0);
    if ordinal >= count {
        return Err(format!("no CUDA device {ordinal} ({count} present)"));
    }
    Ok(())
}

/// The state of one GPU.
///
/// Calls are serialised by [`Device::session`]: one stream and one cuBLAS
/// handle are shared by every call on the backend.
pub(crate) struct Device {
    blas: CudaBlas,
    modules: [OnceLock<Arc<CudaModule>>; Module::ALL.len()],
    stream: Arc<CudaStream>,
    ctx: Arc<CudaContext>,
    card: String,
    lock: Mutex<()>,
    /// Page-locked buffers for large `f64` copies, made on first use.
    staging: Mutex<Option<Staging>>,
    /// Whether large `f64` copies go through `staging`.
    stage: AtomicBool,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("ordinal", &self.ctx.ordinal())
            .field("card", &self.card)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Opens device `ordinal` (call [`probe`] first: without a driver the
    /// context constructor panics).
    pub(crate) fn open(ordinal: usize) -> Result<Device, CudaError> {
        let ctx = CudaContext::new(ordinal)?;
        let card = ctx.name()?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone())?;
        Ok(Device {
            blas,
            modules: Default::default(),
            stream,
            ctx,
            card,
            lock: Mutex::new(()),
            staging: Mutex::new(None),
            stage: AtomicBool::new(true),
        })
    }

    /// The card's name as the driver reports it.
    pub(crate) fn card(&self) -> &str {
        &self.card
    }

    /// Exclusive use of the stream and the cuBLAS handle for one call, with
    /// the context made current on the calling thread (cuBLAS needs it).
    pub(crate) fn session(&self) -> Result<MutexGuard<'_, ()>, CudaError> {
        // A panic caught in an earlier call poisons nothing we rely on: the
        // guarded value is `()`.
        let guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.ctx.bind_to_thread()?;
        Ok(guard)
    }

    /// The stream every call runs on.
    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// A kernel, compiling and loading its module on first use.
    pub(crate) fn function(&self, kernel: Kernel) -> Result<CudaFunction, CudaError> {
        let module = self.module(kernel.module())?;
        Ok(module.load_function(kernel.name())?)
    }

    fn module(&self, module: Module) -> Result<Arc<CudaModule>, CudaError> {
        let cell = &self.modules[module.slot()];
        if let Some(loaded) = cell.get() {
            return Ok(loaded.clone());
        }
        let ptx =
            cudarc::nvrtc::compile_ptx_with_opts(module.source(), module.options()).map_err(|source| {
                CudaError::Compile {
                    file: module.file(),
                    source,
                }
            })?;
        let loaded = self.ctx.load_module(ptx)?;
        // Two threads may compile the same module; the first one stored wins.
        Ok(cell.get_or_init(|| loaded).clone())
    }

    /// A copy of `host` on the device.
    pub(crate) fn upload<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        host: &[T],
    ) -> Result<CudaSlice<T>, CudaError> {
        if host.is_empty() {
            return self.zeros(0);
        }
        Ok(self.stream.clone_htod(host)?)
    }

    /// Whether large `f64` copies go through page-locked staging buffers
    /// (the default) or straight from pageable memory.
    pub(crate) fn set_staging(&self, on: bool) {
        self.stage.store(on, Ordering::Relaxed);
    }

    /// The staging buffers, when large copies use them (made on first use).
    fn staged(&self, len: usize) -> Result<Option<MutexGuard<'_, Option<Staging>>>, CudaError> {
        if len < MIN_STAGED || !self.stage.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut guard = self
            .staging
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(Staging::new(&self.ctx)?);
        }
        Ok(Some(guard))
    }

    /// A copy of `host` on the device, through the staging buffers when it
    /// is large.
    pub(crate) fn upload_values(&self, host: &[f64]) -> Result<CudaSlice<f64>, CudaError> {
        match self.staged(host.len())? {
            Some(mut guard) => {
                // SAFETY: every element is written by the upload below
                // before any kernel reads the buffer.
                let mut dst = unsafe { self.stream.alloc::<f64>(host.len()) }?;
                match guard.as_mut() {
                    Some(staging) => staging.upload(&self.stream, host, &mut dst)?,
                    None => self.stream.memcpy_htod(host, &mut dst)?,
                }
                Ok(dst)
            }
            None => self.upload(host),
        }
    }

    /// [`Device::download_into`] through the staging buffers when large.
    pub(crate) fn download_values_into(
        &self,
        what: &'static str,
        dev: &CudaSlice<f64>,
        host: &mut [f64],
    ) -> Result<(), CudaError> {
        check_source_len(what, dev.len(), host.len())?;
        match self.staged(host.len())? {
            Some(mut guard) => match guard.as_mut() {
                Some(staging) => staging.download(&self.stream, dev, host),
                None => self.download_into(what, dev, host),
            },
            None => self.download_into(what, dev, host),
        }
    }

    /// A zeroed device buffer of `len` elements (at least one is allocated,
    /// so that empty problems still get a valid pointer).
    pub(crate) fn zeros<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        len: usize,
    ) -> Result<CudaSlice<T>, CudaError> {
        Ok(self.stream.alloc_zeros(len.max(1))?)
    }

    /// The first `host.len()` elements of a device buffer, copied into
    /// `host` (results land in the caller's array without a second copy on
    /// the host).
    pub(crate) fn download_into<T: DeviceRepr>(
        &self,
        what: &'static str,
        dev: &CudaSlice<T>,
        host: &mut [T],
    ) -> Result<(), CudaError> {
        let len = host.len();
        check_source_len(what, dev.len(), len)?;
        if len > 0 {
            self.stream.memcpy_dtoh(&dev.slice(..len), host)?;
            // A copy into pageable memory has completed when the call
            // returns; the synchronisation also surfaces earlier kernel
            // faults here, with the call that caused them.
            self.stream.synchronize()?;
        }
        Ok(())
    }

    /// One row-major product `c = op(x) op(y)` on cuBLAS.
    pub(crate) fn gemm<X, Y, C>(&self, shape: RowMajorGemm, x: &X, y: &Y, c: &mut C) -> Result<(), CudaError>
    where
        X: DevicePtr<f64>,
        Y: DevicePtr<f64>,
        C: DevicePtrMut<f64>,
    {
        if shape.is_empty() {
            return Ok(());
        }
        shape.check_lengths(1, x.len(), y.len(), c.len())?;
        let cfg = shape.config()?;
        // SAFETY: `check_lengths` verified that x, y and c hold the
        // rows x depth, depth x cols and rows x cols elements the
        // configuration reads and writes; the leading dimensions of
        // `config` match those row-major shapes.
        unsafe { self.blas.gemm(cfg, y, x, c) }?;
        Ok(())
    }

    /// `batch` row-major products `c_i = op(x_i) op(y_i)`, the operands of
    /// product `i` starting at `i` times the given strides.
    pub(crate) fn gemm_batched<X, Y, C>(
        &self,
        shape: RowMajorGemm,
        batch: usize,
        strides: [usize; 3],
        x: &X,
        y: &Y,
        c: &mut C,
    ) -> Result<(), CudaError>
    where
        X: DevicePtr<f64>,
        Y: DevicePtr<f64>,
        C: DevicePtrMut<f64>,
    {
        if shape.is_empty() || batch == 0 {
            return Ok(());
        }
        let cfg = shape.batched_config(batch, strides, [x.len(), y.len(), c.len()])?;
        // SAFETY: `batched_config` verified that the last product of the
        // batch ends inside x, y and c, with leading dimensions matching
        // the row-major shapes.
        unsafe { self.blas.gemm_strided_batched(cfg, y, x, c) }?;
        Ok(())
    }
}

/// The launch shape of a grid-stride kernel over `n` elements.
pub(crate) fn grid(n: usize) -> LaunchConfig {
    let blocks = (n as u64).div_ceil(u64::from(BLOCK)).clamp(1, MAX_BLOCKS);
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches `kernel` over `n` elements with the given arguments, which must
/// match the kernel's C signature in order and type (device buffers by
/// reference, scalars as references to `u64`/`f64` locals). Nothing is
/// launched when `n` is zero.
macro_rules! launch {
    ($dev:expr, $kernel:expr, $n:expr; $($arg:expr),+ $(,)?) => {{
        let n: usize = $n;
        if n > 0 {
            let func = $dev.function($kernel)?;
            let mut builder = $dev.stream().launch_builder(&func);
            $( cudarc::driver::PushKernelArg::arg(&mut builder, $arg); )+
            // SAFETY: every call site passes the arguments in the kernel's
            // C order and types, with buffers holding at least the elements
            // the kernel indexes for its `n` (stated at each call site); the
            // kernels read and write only below those bounds.
            unsafe { builder.launch($crate::backend::cuda::device::grid(n)) }?;
        }
    }};
}
pub(crate) use launch;

/// A row-major matrix product `c (rows x cols) = op(x) (rows x depth) times
/// op(y) (depth x cols)`, as cuBLAS (column-major) must be told it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowMajorGemm {
    /// Rows of `c`.
    pub rows: usize,
    /// Columns of `c`.
    pub cols: usize,
    /// The summed dimension.
    pub depth: usize,
    /// `x` is stored depth x rows (its transpose is used).
    pub x_transposed: bool,
    /// `y` is stored cols x depth (its transpose is used).
    pub y_transposed: bool,
}

impl RowMajorGemm {
    /// `x y^T` for `x` rows x depth and `y` cols x depth: a dense layer
    /// with PyTorch's (out, in) weights.
    pub(crate) fn nt(rows: usize, depth: usize, cols: usize) -> Self {
        RowMajorGemm {
            rows,
            cols,
            depth,
            x_transposed: false,
            y_transposed: true,
        }
    }

    /// `x y` for `x` rows x depth and `y` depth x cols.
    pub(crate) fn nn(rows: usize, depth: usize, cols: usize) -> Self {
        RowMajorGemm {
            x_transposed: false,
            y_transposed: false,
            ..Self::nt(rows, depth, cols)
        }
    }

    /// `x^T y` for `x` depth x rows and `y` depth x cols.
    #[cfg(test)]
    pub(crate) fn tn(rows: usize, depth: usize, cols: usize) -> Self {
        RowMajorGemm {
            x_transposed: true,
            y_transposed: false,
            ..Self::nt(rows, depth, cols)
        }
    }

    fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }

    fn x_len(&self) -> usize {
        self.rows * self.depth
    }

    fn y_len(&self) -> usize {
        self.depth * self.cols
    }

    fn c_len(&self) -> usize {
        self.rows * self.cols
    }

    /// Checks that `batch` products fit the buffers when they are packed
    /// one after another.
    fn check_lengths(&self, batch: usize, x: usize, y: usize, c: usize) -> Result<(), CudaError> {
        for (what, expected, got) in [
            ("gemm x", batch * self.x_len(), x),
            ("gemm y", batch * self.y_len(), y),
            ("gemm c", batch * self.c_len(), c),
        ] {
            if got < expected {
                return Err(CudaError::Layout { what, expected, got });
            }
        }
        Ok(())
    }

    /// The cuBLAS configuration. cuBLAS reads each row-major matrix as its
    /// transpose, so it computes `c^T = op(y)^T op(x)^T`: `y` is its first
    /// operand and `x` its second, and the row-major widths are the leading
    /// dimensions.
    pub(crate) fn config(&self) -> Result<GemmConfig<f64>, CudaError> {
        let op = |t: bool| {
            if t {
                cublasOperation_t::CUBLAS_OP_T
            } else {
                cublasOperation_t::CUBLAS_OP_N
            }
        };
        let ld_x = if self.x_transposed { self.rows } else { self.depth };
        let ld_y = if self.y_transposed { self.depth } else { self.cols };
        Ok(GemmConfig {
            transa: op(self.y_transposed),
            transb: op(self.x_transposed),
            m: int("gemm cols", self.cols)?,
            n: int("gemm rows", self.rows)?,
            k: int("gemm depth", self.depth)?,
            alpha: 1.0,
            lda: int("gemm y width", ld_y.max(1))?,
            ldb: int("gemm x width", ld_x.max(1))?,
            beta: 0.0,
            ldc: int("gemm c width", self.cols.max(1))?,
        })
    }

    /// The strided-batched configuration; `strides` are those of `x`, `y`
    /// and `c`, `lens` the buffer lengths, checked against the last product.
    pub(crate) fn batched_config(
        &self,
        batch: usize,
        strides: [usize; 3],
        lens: [usize; 3],
    ) -> Result<StridedBatchedConfig<f64>, CudaError> {
        let last = batch.saturating_sub(1);
        for (what, stride, size, len) in [
            ("batched gemm x", strides[0], self.x_len(), lens[0]),
            ("batched gemm y", strides[1], self.y_len(), lens[1]),
            ("batched gemm c", strides[2], self.c_len(), lens[2]),
        ] {
            let expected = last * stride + size;
            if len < expected {
                return Err(CudaError::Layout {
                    what,
                    expected,
                    got: len,
                });
            }
        }
        Ok(StridedBatchedConfig {
            gemm: self.config()?,
            batch_size: int("gemm batch", batch)?,
            stride_a: strides[1] as i64,
            stride_b: strides[0] as i64,
            stride_c: strides[2] as i64,
        })
    }
}

fn int(what: &'static str, value: usize) -> Result<i32, CudaError> {
    i32::try_from(value).map_err(|_| CudaError::TooLarge { what, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A plain column-major GEMM with cuBLAS's argument conventions:
    /// `C = op(A) op(B)`, `C` m x n with leading dimension ldc.
    fn column_major_gemm(cfg: &GemmConfig<f64>, a: &[f64], b: &[f64], c: &mut [f64]) {
        let (m, n, k) = (cfg.m as usize, cfg.n as usize, cfg.k as usize);
        let (lda, ldb, ldc) = (cfg.lda as usize, cfg.ldb as usize, cfg.ldc as usize);
        let ta = cfg.transa == cublasOperation_t::CUBLAS_OP_T;
        let tb = cfg.transb == cublasOperation_t::CUBLAS_OP_T;
        for j in 0..n {
            for i in 0..m {
                let mut acc = 0.0;
                for l in 0..k {
                    let av = if ta { a[l + i * lda] } else { a[i + l * lda] };
                    let bv = if tb { b[j + l * ldb] } else { b[l + j * ldb] };
                    acc += av * bv;
                }
                c[i + j * ldc] = acc;
            }
        }
    }

    fn filled(r: usize, c: usize, seed: usize) -> Array2<f64> {
        Array2::from_shape_fn((r, c), |(i, j)| ((i * 7 + j * 3 + seed) % 11) as f64 - 5.0)
    }

    fn product_through_config(shape: RowMajorGemm, x: &Array2<f64>, y: &Array2<f64>) -> Array2<f64> {
        let cfg = shape.config().unwrap();
        let mut c = vec![f64::NAN; shape.rows * shape.cols];
        column_major_gemm(&cfg, y.as_slice().unwrap(), x.as_slice().unwrap(), &mut c);
        Array2::from_shape_vec((shape.rows, shape.cols), c).unwrap()
    }

    #[test]
    fn row_major_products_map_to_column_major_cublas() {
        for (rows, depth, cols) in [(1, 1, 1), (3, 5, 2), (4, 1, 6), (7, 3, 7)] {
            let x = filled(rows, depth, 1);
            let yt = filled(cols, depth, 2);
            let y = yt.t().as_standard_layout().into_owned();
            let expected = x.dot(&y);
            assert_eq!(
                product_through_config(RowMajorGemm::nt(rows, depth, cols), &x, &yt),
                expected
            );
            assert_eq!(
                product_through_config(RowMajorGemm::nn(rows, depth, cols), &x, &y),
                expected
            );
            let xt = x.t().as_standard_layout().into_owned();
            assert_eq!(
                product_through_config(RowMajorGemm::tn(rows, depth, cols), &xt, &y),
                expected
            );
        }
    }

    #[test]
    fn batched_strides_address_consecutive_products() {
        let (batch, rows, depth, cols) = (3, 2, 4, 3);
        let shape = RowMajorGemm::nn(rows, depth, cols);
        let xs: Vec<Array2<f64>> = (0..batch).map(|i| filled(rows, depth, i)).collect();
        let ys: Vec<Array2<f64>> = (0..batch).map(|i| filled(depth, cols, i + 5)).collect();
        let x: Vec<f64> = xs.iter().flat_map(|m| m.iter().copied()).collect();
        let y: Vec<f64> = ys.iter().flat_map(|m| m.iter().copied()).collect();
        let strides = [rows * depth, depth * cols, rows * cols];
        let cfg = shape
            .batched_config(batch, strides, [x.len(), y.len(), batch * rows * cols])
            .unwrap();
        let mut c = vec![0.0; batch * rows * cols];
        for i in 0..batch {
            let (sa, sb, sc) = (
                i * cfg.stride_a as usize,
                i * cfg.stride_b as usize,
                i * cfg.stride_c as usize,
            );
            column_major_gemm(&cfg.gemm, &y[sa..], &x[sb..], &mut c[sc..]);
        }
        for i in 0..batch {
            let got =
                Array2::from_shape_vec((rows, cols), c[i * rows * cols..(i + 1) * rows * cols].to_vec());
            assert_eq!(got.unwrap(), xs[i].dot(&ys[i]));
        }
    }

    #[test]
    fn short_buffers_are_layout_errors() {
        let shape = RowMajorGemm::nn(2, 3, 4);
        assert!(matches!(
            shape.check_lengths(1, 5, 12, 8),
            Err(CudaError::Layout { .. })
        ));
        assert!(shape.check_lengths(1, 6, 12, 8).is_ok());
        assert!(shape.batched_config(2, [6, 12, 8], [12, 24, 15]).is_err());
        assert!(shape.batched_config(2, [6, 0, 8], [12, 12, 16]).is_ok());
    }

    #[test]
    fn oversized_dimensions_are_errors() {
        let shape = RowMajorGemm::nn(1 << 31, 1, 1);
        assert!(matches!(shape.config(), Err(CudaError::TooLarge { .. })));
    }

    #[test]
    fn grids_cover_small_and_large_problems() {
        assert_eq!(grid(0).grid_dim.0, 1);
        assert_eq!(grid(1).grid_dim.0, 1);
        assert_eq!(grid(257).grid_dim.0, 2);
        assert_eq!(grid(usize::MAX / 2).grid_dim.0 as u64, MAX_BLOCKS);
    }

    #[test]
    fn probing_never_panics() {
        // Without a GPU this is the reason BackendUnavailable carries; with
        // one it is Ok. Either way it returns.
        let _ = probe(0);
        assert!(probe(usize::MAX).is_err());
    }
}
