//! Geometry types: [`Polytope`], [`Domain`], [`Plane`], [`Window`] and
//! [`ConvexPolygon`].

mod domain;
mod incircle;
mod plane;
mod polygon;
mod polytope;
pub(crate) mod predicates;
pub(crate) mod projection;
pub(crate) mod vertices;
pub(crate) mod volume;

pub use domain::Domain;
pub(crate) use incircle::largest_inscribed_circle;
pub(crate) use plane::signed_area;
pub use plane::{Plane, Window};
pub(crate) use polygon::{cut_piece, cut_piece_into};
pub use polygon::{ConvexPolygon, Split};
pub use polytope::{Polytope, PolytopeView};
