//! Geometry types: [`Polytope`], [`Domain`], [`Plane`] and [`Window`].

mod domain;
mod plane;
mod polytope;

pub use domain::Domain;
pub use plane::{Plane, Window};
pub use polytope::Polytope;
