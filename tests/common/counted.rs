//! A backend that wraps another (the serial CPU backend unless told), counts
//! its calls kernel by kernel and can set a cancel flag during its n-th call:
//! which route a computation takes through the `Backend` trait, and stops
//! triggered deterministically from inside a run.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cpwl::backend::{
    Backend, CpuBackend, ForwardBatch, JacobianBatch, Keep, LesGramBatch, Neighbourhood, Precision,
    PreparedPoints,
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
    Affine,
}

/// Another backend, counted; see the module doc.
pub struct Counted {
    inner: Box<dyn Backend>,
    /// The answer to `prefers_les_grams` (`None`: ask the inner backend).
    prefers: Option<bool>,
    cancel_at: usize,
    /// The flag set during call number `cancel_at` (1-based, all kernels together).
    pub cancel: Arc<AtomicBool>,
    calls: [AtomicUsize; 5],
    total: AtomicUsize,
    /// The number of points (rows) of each call, in call order.
    rows: Mutex<Vec<usize>>,
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
            rows: Mutex::new(Vec::new()),
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

    /// The number of points (rows) each call was given, in call order.
    pub fn rows_per_call(&self) -> Vec<usize> {
        self.rows.lock().unwrap().clone()
    }

    fn tick(&self, kernel: Kernel, rows: usize) {
        self.rows.lock().unwrap().push(rows);
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
    fn precision(&self) -> Precision {
        self.inner.precision()
    }
    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        self.tick(Kernel::Forward, x.nrows());
        self.inner.forward(net, x, keep)
    }
    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        self.tick(Kernel::Jacobians, x.nrows());
        self.inner.jacobians(net, x)
    }
    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.tick(Kernel::SignChanges, points.nrows());
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
        self.tick(Kernel::SignChanges, rows.len());
        self.inner.sign_changes_prepared(net, prepared, rows, hood)
    }
    fn les_grams(
        &self,
        decoder: &Network,
        z: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Result<LesGramBatch> {
        self.tick(Kernel::LesGrams, z.nrows());
        self.inner.les_grams(decoder, z, seq_len, vocab)
    }
    fn prefers_les_grams(&self, decoder: &Network) -> bool {
        self.prefers
            .unwrap_or_else(|| self.inner.prefers_les_grams(decoder))
    }
    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        self.tick(Kernel::Affine, points.nrows());
        self.inner.affine_values(a, c, points)
    }
}
