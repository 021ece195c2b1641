//! A backend that wraps the CPU backend, counts its calls and sets a cancel
//! flag during the n-th: stops triggered deterministically from inside a
//! run (the scores, local complexity, the LP walk and the skeleton reach it).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use cpwl::backend::{Backend, CpuBackend, ForwardBatch, JacobianBatch, Keep, LesGramBatch, Neighbourhood};
use cpwl::{Network, Result};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// The CPU backend, counting its calls and setting `cancel` during call
/// number `cancel_at` (1-based); optionally preferring `les_grams`.
pub struct Tripwire {
    inner: CpuBackend,
    /// The calls so far.
    pub calls: AtomicUsize,
    cancel_at: usize,
    /// The flag set during call `cancel_at`.
    pub cancel: Arc<AtomicBool>,
    grams: bool,
}

impl Tripwire {
    pub fn new(cancel_at: usize, grams: bool) -> Tripwire {
        Tripwire {
            inner: CpuBackend::serial(),
            calls: AtomicUsize::new(0),
            cancel_at,
            cancel: Arc::new(AtomicBool::new(false)),
            grams,
        }
    }

    fn tick(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.cancel_at {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

impl Backend for Tripwire {
    fn name(&self) -> &str {
        "tripwire"
    }
    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        self.tick();
        self.inner.forward(net, x, keep)
    }
    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        self.tick();
        self.inner.jacobians(net, x)
    }
    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.tick();
        self.inner.sign_changes(net, points, hood)
    }
    fn les_grams(
        &self,
        decoder: &Network,
        z: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Result<LesGramBatch> {
        self.tick();
        self.inner.les_grams(decoder, z, seq_len, vocab)
    }
    fn prefers_les_grams(&self, _decoder: &Network) -> bool {
        self.grams
    }
    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        self.tick();
        self.inner.affine_values(a, c, points)
    }
}
