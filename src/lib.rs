//! # cpwl: exact geometry of continuous piecewise-linear networks
//!
//! (crate tour written below once the modules land)
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod geometry;
// The LP walk that consumes this module lands later; drop the allow then.
#[allow(dead_code, unused_imports)]
pub(crate) mod lp;
pub mod tol;

pub use error::{Error, Result};
pub use geometry::{Domain, Plane, Polytope, Window};
