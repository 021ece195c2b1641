//! # cpwl: exact geometry of continuous piecewise-linear networks
//!
//! (crate tour written below once the modules land)
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod geometry;
pub(crate) mod io;
pub mod lc;
pub mod scales;
pub mod tol;

#[cfg(test)]
mod test_support;

pub use error::{Error, Result};
pub use geometry::{Domain, Plane, Polytope, Window};
