//! Element-wise kernels shared by the network's evaluator and the backends.
//!
//! They sit below both [`crate::network`] and [`crate::backend`] so that the
//! evaluator can use them without importing a backend, and the backends
//! without a circle through the network.

pub(crate) mod corrections;
pub(crate) mod fused;
pub(crate) mod simd;
pub(crate) mod single;
