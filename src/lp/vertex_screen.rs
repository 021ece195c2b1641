//! The screened vertex walk: the walk of [`vertices`](super::vertices) over a
//! few of the rows, checked against the others.
//!
//! A region of a network in a small box has a few dozen facets among
//! hundreds of rows, and the walk costs `O(m d)` per vertex over `m` rows
//! (`O(m d^2)` at a vertex whose basis is inverted afresh, one in
//! `PIVOTS_PER_INVERSE` along a chain). Walking only a subset of `s` rows
//! (the certified facets, the rows of the first vertex and the rows nearest
//! the interior point) costs `O(s d)` per vertex (`O(s d^2)` afresh),
//! plus `O(d)` per vertex for each other row not cleared at once by
//! its distance from the interior point. When every other row keeps a slack
//! above [`TOL_VERTEX_SLACK`] at every vertex found, those rows cut nothing,
//! so the vertices are the polytope's own, with the same tight rows. Rows
//! that come closer join the subset and the walk starts again; a subset
//! whose walk fails (a degenerate or unbounded set, too many vertices) takes
//! twice as many of the nearest rows, up to every row.
//!
//! The walk over the subset starts at the vertex that the walk over every
//! row starts from and meets the same rows along the same edges (the rates
//! that count as parallel are set by the edge's length, not by the rows), so
//! it returns the same vertices in the same order: the screen changes the
//! cost, never the answer.

use ndarray::{Array1, ArrayView1};

use super::screen::{Rows, Status};
use super::vertices::{clear_of_vertices, relabel, Local, Reach, Vertex};

/// The subset starts with this many rows per dimension nearest the interior
/// point (besides the certified facets and the first vertex's rows).
const SCREEN_ROWS_PER_DIM: usize = 4;

impl Rows {
    /// The vertices of the polytope of the active rows (bases as row
    /// indices) as [`Rows::vertex_walk`] finds them, by walking a subset of
    /// the rows (as [`Local::walk_with`] with the given `max_vertices` and
    /// `pivots`); `None` when that walk gives up.
    pub(super) fn screened_vertex_walk(
        &self,
        active: &[usize],
        interior: ArrayView1<'_, f64>,
        (max_vertices, pivots): (usize, usize),
    ) -> Option<Vec<Vertex>> {
        let all = self.local(active);
        let start = all.first_vertex(interior)?;
        let certified: Vec<bool> = active.iter().map(|&k| self.status[k] == Status::Facet).collect();
        let mut screen = Screen::new(&all, interior, &certified, &start);
        let mut vertices = loop {
            let subset = screen.subset();
            if subset.len() == all.len() {
                break all.walk_with(start, max_vertices, pivots)?;
            }
            // The start's rows are in the subset: their positions there.
            let local_start = start
                .iter()
                .filter_map(|k| subset.binary_search(k).ok())
                .collect();
            let Some(mut found) = all.select(&subset).walk_with(local_start, max_vertices, pivots) else {
                screen.widen();
                continue;
            };
            relabel(&mut found, &subset);
            if !screen.admit_rows_near(&found) {
                break found;
            }
        };
        relabel(&mut vertices, active);
        Some(vertices)
    }
}

/// Which rows (positions in a [`Local`]) the walk takes.
struct Screen<'a, 'z> {
    all: &'a Local,
    interior: ArrayView1<'z, f64>,
    /// Positions by ascending slack at the interior point.
    by_slack: Vec<usize>,
    /// Positions taken.
    chosen: Vec<bool>,
    /// How many of the nearest positions are taken.
    nearest: usize,
}

impl<'a, 'z> Screen<'a, 'z> {
    /// The `certified` facets and the rows of the first vertex (`start`),
    /// with the nearest rows to come.
    fn new(all: &'a Local, interior: ArrayView1<'z, f64>, certified: &[bool], start: &[usize]) -> Self {
        let slack: Array1<f64> = (0..all.len())
            .map(|k| {
                let (row, beta) = all.row(k);
                beta - row.dot(&interior)
            })
            .collect();
        let mut by_slack: Vec<usize> = (0..all.len()).collect();
        by_slack.sort_by(|&i, &j| slack[i].total_cmp(&slack[j]));
        let mut chosen = certified.to_vec();
        for &k in start {
            chosen[k] = true;
        }
        Screen {
            all,
            interior,
            by_slack,
            chosen,
            nearest: SCREEN_ROWS_PER_DIM * interior.len(),
        }
    }

    /// The positions taken, ascending (so that every basis sorts as it
    /// would among all the rows).
    fn subset(&mut self) -> Vec<usize> {
        let n = self.nearest.min(self.by_slack.len());
        for &k in &self.by_slack[..n] {
            self.chosen[k] = true;
        }
        (0..self.all.len()).filter(|&k| self.chosen[k]).collect()
    }

    /// Takes twice as many of the nearest rows.
    fn widen(&mut self) {
        self.nearest = 2 * self.nearest.max(1);
    }

    /// Takes the rows left out that come within [`TOL_VERTEX_SLACK`] of a
    /// vertex; true when there were any.
    fn admit_rows_near(&mut self, vertices: &[Vertex]) -> bool {
        let reach = Reach::of(vertices, self.interior);
        let near: Vec<usize> = (0..self.all.len())
            .filter(|&k| !self.chosen[k])
            .filter(|&k| {
                let (row, beta) = self.all.row(k);
                !clear_of_vertices(row, beta, vertices, &reach)
            })
            .collect();
        for &k in &near {
            self.chosen[k] = true;
        }
        !near.is_empty()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use ndarray::{Array1, Array2};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    use super::super::screen::Rows;
    use super::super::vertices::{MAX_VERTICES, PIVOTS_PER_INVERSE};
    use crate::geometry::Polytope;
    use crate::test_support::{cube, with_rows};

    /// The box `[0, 2]^d` cut by `extra` random rows that keep the centre
    /// `1` inside, at distances from 0.05 to 1.5 (most of them redundant).
    pub(in crate::lp) fn random_polytope(d: usize, extra: usize, rng: &mut StdRng) -> Polytope {
        let mut p = cube(d, 0.0, 2.0);
        for _ in 0..extra {
            let row = Array1::<f64>::from_shape_fn(d, |_| rng.random_range(-1.0..1.0));
            let norm = row.dot(&row).sqrt();
            let rhs = row.sum() + norm * rng.random_range(0.05..1.5);
            p = with_rows(p, &[(row.as_slice().expect("contiguous"), rhs)]);
        }
        p
    }

    #[test]
    fn screened_walk_finds_the_full_walks_vertices_in_order() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut compared = 0;
        for trial in 0..30 {
            let d = 2 + trial % 5;
            let p = random_polytope(d, 20 + 8 * trial, &mut rng);
            let rows = Rows::normalised(&p, "test").unwrap();
            let active: Vec<usize> = (0..p.len()).collect();
            // Off the centre, so the nearest rows are not all alike.
            let z = Array1::from_shape_fn(d, |j| 1.0 + 0.01 * j as f64);
            let full = rows.vertex_walk(&active, z.view(), MAX_VERTICES);
            let screened = rows.screened_vertex_walk(&active, z.view(), (MAX_VERTICES, PIVOTS_PER_INVERSE));
            let (Some(full), Some(screened)) = (full, screened) else {
                panic!("trial {trial}: random rows are in general position");
            };
            assert_eq!(full.len(), screened.len(), "trial {trial}");
            for (f, s) in full.iter().zip(&screened) {
                assert_eq!(f.basis, s.basis, "trial {trial}");
                assert_eq!(f.point, s.point, "trial {trial}");
            }
            compared += full.len();
        }
        assert!(compared > 1000, "{compared} vertices compared");
    }

    #[test]
    fn screened_walk_takes_a_far_facet_it_left_out() {
        // The square [0, 1]^2 seen from near its corner (0, 0), with 12
        // redundant rows x >= -k/1000, y >= -k/1000 nearer than the far
        // sides: the nearest rows leave the set unbounded or miss x + y <=
        // 1.5 (a facet), which the screen must take back.
        let mut a = vec![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0]];
        let mut b = vec![1.0, 0.0, 1.0, 0.0, 1.5];
        for k in 1..=6 {
            a.extend([[-1.0, 0.0], [0.0, -1.0]]);
            b.extend([k as f64 / 1000.0; 2]);
        }
        let p = Polytope {
            a: Array2::from_shape_fn((a.len(), 2), |(i, j)| a[i][j]),
            b: Array1::from(b),
        };
        let rows = Rows::normalised(&p, "test").unwrap();
        let active: Vec<usize> = (0..p.len()).collect();
        let z = ndarray::array![0.01, 0.02];
        let vertices = rows
            .screened_vertex_walk(&active, z.view(), (MAX_VERTICES, PIVOTS_PER_INVERSE))
            .unwrap();
        let mut bases: Vec<Vec<usize>> = vertices.iter().map(|v| v.basis.clone()).collect();
        bases.sort();
        // The pentagon (0,0), (1,0), (1,0.5), (0.5,1), (0,1).
        assert_eq!(
            bases,
            vec![vec![0, 3], vec![0, 4], vec![1, 2], vec![1, 3], vec![2, 4]]
        );
    }
}
