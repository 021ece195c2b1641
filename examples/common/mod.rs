//! Shared code of the examples: the embedded digits, a seeded generator, a
//! small MLP trainer whose weights become a [`cpwl::Network`], a toy language
//! for decoders, the peer workloads' loaders, the `.npy` writer (the tests'
//! own, included by path) and where outputs go.
//!
//! Every example pulls this in with `mod common;` and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod data;
pub mod mlp;
#[path = "../../tests/common/npy.rs"]
pub mod npy;
pub mod output;
pub mod peers;
pub mod rng;
pub mod toy;

pub use data::{digits, Split};
pub use mlp::{one_hot, Activation, Adam, Loss, Mlp, TrainOptions};
pub use output::output_path;
pub use rng::Rng;
