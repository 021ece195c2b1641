//! A backend that wraps another (the serial CPU backend unless told), counts
//! its calls kernel by kernel and can set a cancel flag during its n-th call:
//! which route a computation takes through the `Backend` trait, and stops
//! triggered deterministically from inside a run.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use cpwl::backend::{
    Backend, CpuBackend, ForwardBatch, JacobianBatch, Keep, LesGramBatch, Neighbourhood, PreparedPoints,
};
use cpwl::{Network, Result};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// The counted kernels.
#[derive(Clone, Copy, Debug)]
pub enum Kernel {
    Forward,
    Jacobians,
    SignChanges,
    LesGrams,
}

/// Another backend, counted; see the module doc.
pub struct Counted {
    inner: Box<dyn Backend>,
    /// The answer to `prefers_les_grams` (`None`: ask the inner backend).
    prefers: Option<bool>,
    cancel_at: usize,
    /// The flag set during call number `cancel_at` (1-based, all kernels together).
    pub cancel: Arc<AtomicBool>,
    calls: [AtomicUsize; 4],
    total: AtomicUsize,
}

impl Counted {
    /// The serial CPU backend, counted; it never cancels.
    pub fn cpu() -> Counted {
        Counted::wrapping(Box::new(CpuBackend::serial()))
    }

    /// `inner`, counted; it never cancels.
    pub fn wrapping(inner: Box<dyn Backend>) -> Counted {
        Counted {
            inner,
            prefers: None,
            cancel_at: usize::MAX,
            cancel: Arc::new(AtomicBool::new(false)),
            calls: Default::default(),
            total: AtomicUsize::new(0),
        }
    }

    /// Sets the cancel flag during call number `call` (1-based).
    pub fn cancelling_at(self, call: usize) -> Counted {
        Counted {
            cancel_at: call,
            ..self
        }
    }

    /// Answers `prefers_les_grams` with `prefers` whatever the inner backend says.
    pub fn preferring_grams(self, prefers: bool) -> Counted {
        Counted {
            prefers: Some(prefers),
            ..self
        }
    }

    /// The calls of `kernel` so far.
    pub fn calls(&self, kernel: Kernel) -> usize {
        self.calls[kernel as usize].load(Ordering::SeqCst)
    }

    /// The calls of every kernel so far.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    fn tick(&self, kernel: Kernel) {
        self.calls[kernel as usize].fetch_add(1, Ordering::SeqCst);
        if self.total.fetch_add(1, Ordering::SeqCst) + 1 == self.cancel_at {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

impl Backend for Counted {
    fn name(&self) -> &str {
        "counted"
    }
    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        self.tick(Kernel::Forward);
        self.inner.forward(net, x, keep)
    }
    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        self.tick(Kernel::Jacobians);
        self.inner.jacobians(net, x)
    }
    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.tick(Kernel::SignChanges);
        self.inner.sign_changes(net, points, hood)
    }
    fn prepare_points(&self, points: Array2<f64>) -> Result<PreparedPoints> {
        self.inner.prepare_points(points)
    }
    fn sign_changes_prepared(
        &self,
        net: &Network,
        prepared: &PreparedPoints,
        rows: Range<usize>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.tick(Kernel::SignChanges);
        self.inner.sign_changes_prepared(net, prepared, rows, hood)
    }
    fn les_grams(
        &self,
        decoder: &Network,
        z: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Result<LesGramBatch> {
        self.tick(Kernel::LesGrams);
        self.inner.les_grams(decoder, z, seq_len, vocab)
    }
    fn prefers_les_grams(&self, decoder: &Network) -> bool {
        self.prefers
            .unwrap_or_else(|| self.inner.prefers_les_grams(decoder))
    }
    fn hyperplane_signs(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
        tol: f64,
    ) -> Result<Array2<i8>> {
        self.inner.hyperplane_signs(a, c, points, tol)
    }
}
