//! Helpers shared by unit tests: the shared test vectors and their files,
//! and small polytopes with known answers.

use std::path::Path;

use ndarray::{Array1, Array2, Ix1, Ix2};

use crate::geometry::Polytope;
use crate::io::npy::{read_npy, read_npz, NpyData as NpyArray};

#[path = "../tests/common/vectors.rs"]
mod vectors;
pub(crate) use vectors::{cases as vector_cases, json as read_json, vectors as vectors_dir};

#[path = "../tests/common/npy.rs"]
mod npy_writer;
pub(crate) use npy_writer::npy_bytes;

/// A 2-D numeric `.npy` file as an `f64` matrix.
pub(crate) fn read_matrix(path: &Path) -> Array2<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    to_matrix(read_npy(&bytes).unwrap())
}

/// A numeric array as an `f64` matrix.
pub(crate) fn to_matrix(array: NpyArray) -> Array2<f64> {
    array.into_f64().unwrap().into_dimensionality::<Ix2>().unwrap()
}

/// A numeric array as an `f64` vector.
pub(crate) fn to_vector(array: NpyArray) -> Array1<f64> {
    array.into_f64().unwrap().into_dimensionality::<Ix1>().unwrap()
}

/// The members of an `.npz` file by name.
pub(crate) fn read_npz_map(path: &Path) -> std::collections::HashMap<String, NpyArray> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_npz(std::io::BufReader::new(file))
        .unwrap()
        .into_iter()
        .collect()
}

/// The square `[0, 1]^2` without the corner `x + y < eps` (rows 0-2: `x >= 0`,
/// `y >= 0`, `x + y >= eps`; rows 3-4: `x <= 1`, `y <= 1`), and row 5,
/// `x + y <= 2`, which touches the corner `(1, 1)` only.
pub(crate) fn square_without_corner(eps: f64) -> Polytope {
    Polytope {
        a: ndarray::array![
            [-1.0, 0.0],
            [0.0, -1.0],
            [-1.0, -1.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [1.0, 1.0]
        ],
        b: ndarray::array![0.0, 0.0, -eps, 1.0, 1.0, 2.0],
    }
}

/// The box `[lo, hi]^d`: row `2j` is `x_j <= hi`, row `2j + 1` is
/// `-x_j <= -lo`.
pub(crate) fn cube(d: usize, lo: f64, hi: f64) -> Polytope {
    let mut a = Array2::zeros((2 * d, d));
    let mut b = Array1::zeros(2 * d);
    for j in 0..d {
        a[[2 * j, j]] = 1.0;
        b[2 * j] = hi;
        a[[2 * j + 1, j]] = -1.0;
        b[2 * j + 1] = -lo;
    }
    Polytope { a, b }
}

/// `p` with the given rows `(a_i, b_i)` appended.
pub(crate) fn with_rows(mut p: Polytope, rows: &[(&[f64], f64)]) -> Polytope {
    let mut b = p.b.to_vec();
    for (row, rhs) in rows {
        p.a.push_row(ndarray::ArrayView1::from(*row))
            .expect("rows as long as the polytope's");
        b.push(*rhs);
    }
    p.b = Array1::from(b);
    p
}

/// The simplex `x >= 0, sum x <= 1` in `d` dimensions: `d + 1` facets, the
/// origin and the unit vectors as vertices.
pub(crate) fn simplex(d: usize) -> Polytope {
    let mut a = Array2::zeros((d + 1, d));
    let mut b = Array1::zeros(d + 1);
    for j in 0..d {
        a[[j, j]] = -1.0;
        a[[d, j]] = 1.0;
    }
    b[d] = 1.0;
    Polytope::new(a, b).expect("finite rows")
}

/// A 1 x 4 x 4 image through 2 x 2 max pooling (4 units, which LC does not
/// count), ReLU on the pooled values (4 units) and maxout over pairs (2
/// units): every kind of unit layer, for the LC counting rule.
pub(crate) fn pooled_relu_maxout() -> crate::Network {
    crate::Network::builder_image(1, 4, 4)
        .max_pool2d(crate::network::Pool2d::square(2))
        .and_then(|b| b.relu().maxout(2).build())
        .expect("a valid network")
}
