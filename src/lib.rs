//! # cpwl: exact geometry of continuous piecewise-linear networks
//!
//! A network built from affine layers (dense, convolution, average pooling,
//! batch norm in inference mode) and CPWL nonlinearities (ReLU, leaky ReLU,
//! absolute value, maxout, max pooling), possibly in residual blocks, is an
//! *affine spline*: input space is tiled into convex polytopes, the **linear
//! regions**, and on each one the network is exactly one affine map. `cpwl`
//! computes that tiling and the statistics research on it uses, exactly, in
//! `f64`.
//!
//! ## A tour
//!
//! - [`network`]: the model. Build a [`Network`] with [`Network::builder`] or
//!   load one ([`Network::from_npz`]); evaluate it ([`Network::forward`],
//!   [`Network::forward_batch`]); read a point's activation [`Pattern`] and the
//!   exact [`Affine`] map of its region ([`Network::local_affine`]); read its
//!   compiled [`network::Program`] (steps, weights, unit table) to write a
//!   backend or an exporter.
//! - [`geometry`]: [`Polytope`] (H-representation), [`Domain`] (a box, a
//!   polytope, or a 2-D slice [`Plane`] through three points with a
//!   [`Window`]).
//! - [`regions`]: every linear region in a domain ([`regions::enumerate`],
//!   by an LP walk in any dimension or exact polygon splitting in 2-D), the
//!   [`regions::Region`] of a point ([`Network::region_at`]) and the decision
//!   boundary ([`regions::Partition::decision_boundary`]).
//! - [`lc`]: the local complexity of Humayun, Balestriero and Baraniuk at
//!   data points ([`lc::local_complexity`], reference-compatible), and its
//!   exact variant ([`lc::exact_local_complexity`]).
//! - [`scales`]: LES, polarity and ScaLES of decoders ([`scales::les`],
//!   [`scales::les_grad`]), exact, with per-latent statuses.
//! - [`run`]: [`run::RunOptions`], the one options type of every long
//!   computation (backend, threads, chunk, progress, cancel, budgets), and
//!   [`run::Outcome`], how a run ended (a stop at a limit is an outcome, not an
//!   error).
//! - [`backend`]: the batched kernels behind every long-running computation,
//!   through the [`backend::Backend`] trait; [`backend::CpuBackend`] is the
//!   default.
//! - [`shard`]: a domain split into shards and their partitions merged
//!   exactly (feature `timely` runs the shards on timely-dataflow workers).
//! - [`io`]: file formats (`.npy`, `.npz`, safetensors, ONNX).
//!
//! ```
//! use cpwl::{Domain, Network};
//! use ndarray::array;
//!
//! // f(x) = relu(x1 - x2) + relu(x1 + x2 - 1)
//! let net = Network::builder(2)
//!     .dense(array![[1.0, -1.0], [1.0, 1.0]], array![0.0, -1.0])?
//!     .relu()
//!     .dense(array![[1.0, 1.0]], array![0.0])?
//!     .build()?;
//! let x = array![2.0, 0.5];
//! assert_eq!(net.pattern(x.view())?.to_string(), "11");
//! let map = net.local_affine(x.view())?;           // f = 2 x1 - 1 here
//! assert_eq!(map.a, array![[2.0, 0.0]]);
//! assert_eq!(map.b, array![-1.0]);
//! let region = net.region_at(x.view(), &Domain::cube(2, -3.0, 3.0))?;
//! assert!(region.polytope().contains(x.view(), 0.0));
//! # Ok::<(), cpwl::Error>(())
//! ```
//!
//! ## Conventions
//!
//! - Points are rows; weights are `(out, in)` as in PyTorch; images are
//!   `C x H x W` flattened row-major.
//! - Two-piece units are active (`1`) when their pre-activation is `> 0`; max
//!   units record the first arg-max of their window.
//! - Nothing in the public API panics on user input: every fallible call
//!   returns [`Result`], with an [`Error`] variant per failure class.
//!
//! ## Tolerances
//!
//! Every tolerance is a named constant in [`tol`]:
//! [`tol::TOL_RADIUS_REL`] (thin-cell rejection, relative to the domain's
//! diameter), [`tol::TOL_SIGN_REL`] (sign tests), [`tol::TOL_SHARED_EDGE_REL`]
//! (edges shared by 2-D regions), [`tol::TOL_ZERO_ROW`]
//! (zero constraint rows), [`tol::TOL_LP_FEAS`] (LP feasibility slack).
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `cuda` | no | `backend::CudaBackend`: the batched kernels on an NVIDIA GPU (cudarc; no CUDA toolkit needed to build, the driver is loaded at run time) |
//! | `serde` | no | `Serialize`/`Deserialize` for the model, geometry and region types; networks and partitions are checked when read back |
//! | `onnx` | no | `Network::from_onnx`, `Network::from_onnx_bytes` and their `_with` forms (ONNX import, pure Rust; external data files; a trailing Softmax/LogSoftmax dropped) |
//! | `proptest` | no | `cpwl::strategies`: proptest strategies for random networks, domains and points |
//! | `nalgebra` | no | `interop`: conversions of matrices, points, Jacobians, `Affine` and `Polytope` to and from `nalgebra` |
//! | `plot` | no | PNG pictures of 2-D partitions (`plot::render_png`, through `plotters`, with an embedded font); SVG pictures need no feature |
//! | `testing` | no | `cpwl::testing`: the conformance kit that checks a `Backend` against the CPU reference |
//! | `timely` | no | `shard::timely_run`: sharded enumeration across worker threads, processes and hosts on timely-dataflow |
#![warn(missing_docs)]
#![deny(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
pub mod error;
mod evaluation;
pub mod geometry;
#[cfg(feature = "nalgebra")]
#[cfg_attr(docsrs, doc(cfg(feature = "nalgebra")))]
pub mod interop;
pub mod io;
pub(crate) mod kernels;
pub mod lc;
pub(crate) mod linalg;
pub(crate) mod lp;
pub mod network;
pub mod plot;
pub mod regions;
pub(crate) mod rng;
pub mod run;
pub mod scales;
pub mod shard;
pub(crate) mod softmax;
#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategies;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod tol;
pub(crate) mod waves;

#[cfg(test)]
mod test_support;

/// The guide's Rust code, compiled (and, where it needs no files, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
mod guide {}

pub use error::{Error, Result};

/// Only `cpwl` can build this: it lets the options structs ([`run::RunOptions`],
/// [`regions::EnumOptions`], ...) grow without breaking code that writes
/// `RunOptions { threads: Some(2), ..Default::default() }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Private(());
pub use geometry::{Domain, Plane, Polytope, PolytopeView, Window};
pub use network::{Affine, AffineView, Network, NetworkBuilder, Pattern, PatternRef};
