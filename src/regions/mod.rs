//! Exact linear regions of a network inside a domain.

mod hrep;
mod region;

pub use hrep::RowSource;
pub use region::Region;
