//! Readers for the file formats the crate loads.
//!
//! - [`npy`]: NumPy `.npy` arrays and `.npz` archives of them (crate-private;
//!   the public loaders build on it).

pub(crate) mod npy;
