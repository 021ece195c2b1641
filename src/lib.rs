//! # cpwl: exact geometry of continuous piecewise-linear networks
//!
//! (crate tour written below once the modules land)
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod geometry;
pub mod io;
pub mod tol;

pub use error::{Error, Result};
pub use geometry::{Domain, Plane, Polytope, Window};
pub mod backend;
pub(crate) mod linalg;
pub mod network;
pub mod regions;

pub use network::{Affine, Network, NetworkBuilder, Pattern};
