//! The compact storage of a partition's regions: a struct of arrays.
//!
//! Fixed-size fields (patterns bit-packed, centres, radii, volumes, affine
//! maps) sit in one block each, `stride` values per region; variable-size
//! fields (H-representation rows and their sources, neighbours, polygon
//! vertices) sit in pools, each region holding a [`Span`] of its pool. A
//! region is a few blocks of one buffer each instead of ten heap blocks, and
//! sorting the regions swaps the fixed blocks and the spans only: the pools
//! keep the order in which regions were pushed.

use std::ops::Range;

use ndarray::{ArrayView1, ArrayView2};

use super::hrep::RowSource;
use super::region::{Region, RegionBuf};
use crate::{AffineView, PatternRef, PolytopeView};

/// A region's part of a pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
}

impl Span {
    fn range(self) -> Range<usize> {
        self.start..self.start + self.len
    }

    /// The span of the items pushed onto a pool since it held `start` items.
    fn since(start: usize, pool_len: usize) -> Span {
        Span {
            start,
            len: pool_len - start,
        }
    }
}

/// Every region's pattern, one bit per unit (whole words per region) or one
/// byte per unit: bits while every pattern is made of 0s and 1s.
#[derive(Clone, Debug)]
enum Patterns {
    Bits(Vec<u64>),
    Bytes(Vec<u8>),
}

/// The regions of a partition, stored as a struct of arrays.
#[derive(Clone, Debug)]
pub(crate) struct RegionTable {
    dim: usize,
    outputs: usize,
    units: usize,
    patterns: Patterns,
    /// H-representation: rows `a` (`dim` values each), `b` and sources.
    rows: Vec<Span>,
    row_a: Vec<f64>,
    row_b: Vec<f64>,
    sources: Vec<RowSource>,
    centers: Vec<f64>,
    radii: Vec<f64>,
    /// NaN where the region has no stored volume (computed on demand).
    volumes: Vec<f64>,
    /// `outputs x dim` values per region, then `outputs` offsets.
    affine_a: Vec<f64>,
    affine_b: Vec<f64>,
    neighbors: Vec<Span>,
    neighbor_pool: Vec<usize>,
    /// An empty span where the region has no polygon.
    polygons: Vec<Span>,
    polygon_pool: Vec<[f64; 2]>,
}

/// `f(buffer)` summed over every buffer of a table, `prefix` being `&self` or
/// `&mut self`: the one list of the buffers.
macro_rules! every_buffer {
    ($f:ident, $($prefix:tt)*) => {{
        let patterns = match $($prefix)*.patterns {
            Patterns::Bits(words) => $f(words),
            Patterns::Bytes(bytes) => $f(bytes),
        };
        let rows = $f($($prefix)*.rows) + $f($($prefix)*.row_a) + $f($($prefix)*.row_b) + $f($($prefix)*.sources);
        let points = $f($($prefix)*.centers) + $f($($prefix)*.radii) + $f($($prefix)*.volumes);
        let maps = $f($($prefix)*.affine_a) + $f($($prefix)*.affine_b);
        let neighbors = $f($($prefix)*.neighbors) + $f($($prefix)*.neighbor_pool);
        let polygons = $f($($prefix)*.polygons) + $f($($prefix)*.polygon_pool);
        patterns + rows + points + maps + neighbors + polygons
    }};
}

impl RegionTable {
    /// An empty table for regions in `dim` domain coordinates, of a network
    /// with `outputs` outputs and `units` hidden units.
    pub(crate) fn new(dim: usize, outputs: usize, units: usize) -> RegionTable {
        RegionTable {
            dim,
            outputs,
            units,
            patterns: Patterns::Bits(Vec::new()),
            rows: Vec::new(),
            row_a: Vec::new(),
            row_b: Vec::new(),
            sources: Vec::new(),
            centers: Vec::new(),
            radii: Vec::new(),
            volumes: Vec::new(),
            affine_a: Vec::new(),
            affine_b: Vec::new(),
            neighbors: Vec::new(),
            neighbor_pool: Vec::new(),
            polygons: Vec::new(),
            polygon_pool: Vec::new(),
        }
    }

    /// The number of regions (one radius each).
    pub(crate) fn len(&self) -> usize {
        self.radii.len()
    }

    /// The words of one region's bit-packed pattern.
    fn words_per_pattern(&self) -> usize {
        self.units.div_ceil(64)
    }

    /// The number of H-representation rows of all regions together.
    pub(crate) fn row_count(&self) -> usize {
        self.sources.len()
    }

    /// Makes room for `regions` before they are pushed, so that pushing them
    /// grows no buffer (each would otherwise be copied as it doubles).
    pub(crate) fn reserve_for(&mut self, regions: &[RegionBuf]) {
        let n = regions.len();
        let rows: usize = regions.iter().map(|r| r.polytope.b.len()).sum();
        let neighbors: usize = regions.iter().map(|r| r.neighbors.len()).sum();
        let points: usize = regions
            .iter()
            .filter_map(|r| r.polygon.as_ref())
            .map(Vec::len)
            .sum();
        let (d, o) = (self.dim, self.outputs);
        let pattern_words = n * self.words_per_pattern();
        if let Patterns::Bits(words) = &mut self.patterns {
            words.reserve(pattern_words);
        }
        self.rows.reserve(n);
        self.row_a.reserve(rows * d);
        self.row_b.reserve(rows);
        self.sources.reserve(rows);
        self.centers.reserve(n * d);
        self.radii.reserve(n);
        self.volumes.reserve(n);
        self.affine_a.reserve(n * o * d);
        self.affine_b.reserve(n * o);
        self.neighbors.reserve(n);
        self.neighbor_pool.reserve(neighbors);
        self.polygons.reserve(n);
        self.polygon_pool.reserve(points);
    }

    /// Appends a region. Its shapes must fit the table (`dim`, `outputs`,
    /// `units`): builders make them so, and stored partitions are checked
    /// before they are pushed.
    pub(crate) fn push(&mut self, r: RegionBuf) {
        debug_assert_eq!(r.pattern.len(), self.units);
        debug_assert_eq!(r.polytope.a.ncols(), self.dim);
        debug_assert_eq!(r.affine.a.dim(), (self.outputs, self.dim));
        self.push_pattern(r.pattern.view());
        let start = self.row_b.len();
        self.row_a.extend(r.polytope.a.iter());
        self.row_b.extend(r.polytope.b.iter());
        self.sources.extend_from_slice(&r.sources);
        self.rows.push(Span::since(start, self.row_b.len()));
        self.centers.extend(r.center.iter());
        self.radii.push(r.radius);
        self.volumes.push(r.volume.unwrap_or(f64::NAN));
        self.affine_a.extend(r.affine.a.iter());
        self.affine_b.extend(r.affine.b.iter());
        let start = self.neighbor_pool.len();
        self.neighbor_pool.extend_from_slice(&r.neighbors);
        self.neighbors.push(Span::since(start, self.neighbor_pool.len()));
        let start = self.polygon_pool.len();
        self.polygon_pool.extend(r.polygon.iter().flatten());
        self.polygons.push(Span::since(start, self.polygon_pool.len()));
    }

    /// Appends a pattern; called before the region's radius is pushed.
    fn push_pattern(&mut self, p: PatternRef<'_>) {
        if let (Patterns::Bits(words), Some(w)) = (&mut self.patterns, p.words()) {
            words.extend_from_slice(w);
            return;
        }
        if let Patterns::Bits(_) = self.patterns {
            // The first pattern with a value above 1: every pattern takes a byte per unit.
            let bytes = (0..self.len()).flat_map(|i| self.pattern(i).iter()).collect();
            self.patterns = Patterns::Bytes(bytes);
        }
        if let Patterns::Bytes(bytes) = &mut self.patterns {
            bytes.extend(p.iter());
        }
    }

    /// The pattern of region `i`.
    pub(crate) fn pattern(&self, i: usize) -> PatternRef<'_> {
        match &self.patterns {
            Patterns::Bits(words) => {
                let stride = self.words_per_pattern();
                PatternRef::from_words(&words[i * stride..(i + 1) * stride], self.units)
            }
            Patterns::Bytes(bytes) => PatternRef::from_bytes(&bytes[i * self.units..(i + 1) * self.units]),
        }
    }

    /// The view of region `i`.
    ///
    /// # Panics
    ///
    /// When `i` is out of range.
    pub(crate) fn region(&self, i: usize) -> Region<'_> {
        assert!(i < self.len(), "region {i} of {}", self.len());
        let (d, o) = (self.dim, self.outputs);
        let rows = self.rows[i];
        let a = &self.row_a[rows.start * d..(rows.start + rows.len) * d];
        let polygon = self.polygons[i];
        Region {
            pattern: self.pattern(i),
            polytope: PolytopeView {
                a: ArrayView2::from_shape((rows.len, d), a).expect("rows of `dim` values"),
                b: ArrayView1::from(&self.row_b[rows.range()]),
            },
            sources: &self.sources[rows.range()],
            center: ArrayView1::from(&self.centers[i * d..(i + 1) * d]),
            radius: self.radii[i],
            affine: AffineView {
                a: ArrayView2::from_shape((o, d), &self.affine_a[i * o * d..(i + 1) * o * d])
                    .expect("maps of `outputs x dim` values"),
                b: ArrayView1::from(&self.affine_b[i * o..(i + 1) * o]),
            },
            neighbors: &self.neighbor_pool[self.neighbors[i].range()],
            volume: Some(self.volumes[i]).filter(|v| !v.is_nan()),
            polygon: (polygon.len > 0).then(|| &self.polygon_pool[polygon.range()]),
        }
    }

    /// Replaces every region's neighbours by the pairs' ends: `(i, j)` makes
    /// `j` a neighbour of `i` and `i` one of `j` (unsorted; see
    /// [`RegionTable::sort_by_pattern`]). Indices are `u32`: the pairs sit
    /// beside the whole partition at its peak, and half as many bytes count.
    pub(crate) fn set_neighbor_pairs(&mut self, pairs: &[(u32, u32)]) {
        let pairs = pairs.iter().map(|&(i, j)| (i as usize, j as usize));
        // Each span counts its region's pairs first (no second buffer of
        // counts beside the pairs), then becomes an empty span at its start.
        self.neighbors.iter_mut().for_each(|span| *span = Span::default());
        for (i, j) in pairs.clone() {
            self.neighbors[i].len += 1;
            self.neighbors[j].len += 1;
        }
        let mut start = 0;
        for span in &mut self.neighbors {
            let count = span.len;
            *span = Span { start, len: 0 };
            start += count;
        }
        self.neighbor_pool = vec![0; start];
        for (i, j) in pairs {
            for (from, to) in [(i, j), (j, i)] {
                let span = &mut self.neighbors[from];
                self.neighbor_pool[span.start + span.len] = to;
                span.len += 1;
            }
        }
    }

    /// Sorts the regions by pattern and remaps the neighbour indices (given
    /// in push order), sorting and deduplicating each region's list.
    pub(crate) fn sort_by_pattern(&mut self) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| self.pattern(a).compare(self.pattern(b)));
        let mut new_index = vec![0; self.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        drop(order);
        for span in &mut self.neighbors {
            let list = &mut self.neighbor_pool[span.range()];
            for n in list.iter_mut() {
                *n = new_index[*n];
            }
            list.sort_unstable();
            span.len = dedup_in_place(list);
        }
        // Each region moves to its place in pattern order in place: a second
        // table would double the peak memory.
        for i in 0..self.len() {
            while new_index[i] != i {
                let j = new_index[i];
                self.swap(i, j);
                new_index.swap(i, j);
            }
        }
    }

    /// Swaps regions `i` and `j` (their fixed blocks and their spans).
    fn swap(&mut self, i: usize, j: usize) {
        let (d, o, stride) = (self.dim, self.outputs, self.words_per_pattern());
        match &mut self.patterns {
            Patterns::Bits(words) => swap_blocks(words, stride, i, j),
            Patterns::Bytes(bytes) => swap_blocks(bytes, self.units, i, j),
        }
        self.rows.swap(i, j);
        swap_blocks(&mut self.centers, d, i, j);
        self.radii.swap(i, j);
        self.volumes.swap(i, j);
        swap_blocks(&mut self.affine_a, o * d, i, j);
        swap_blocks(&mut self.affine_b, o, i, j);
        self.neighbors.swap(i, j);
        self.polygons.swap(i, j);
    }

    /// Gives back the spare capacity of every buffer (after the last push).
    pub(crate) fn shrink_to_fit(&mut self) {
        let _: usize = every_buffer!(shrink, &mut self);
    }

    /// The bytes the table holds on the heap (capacities, not lengths).
    pub(crate) fn memory_bytes(&self) -> usize {
        every_buffer!(bytes_of, &self)
    }
}

/// Gives back a buffer's spare capacity (0, for [`every_buffer`]'s sum).
fn shrink<T>(v: &mut Vec<T>) -> usize {
    v.shrink_to_fit();
    0
}

fn bytes_of<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// Swaps blocks `i` and `j` of `stride` items.
fn swap_blocks<T>(v: &mut [T], stride: usize, i: usize, j: usize) {
    if i == j || stride == 0 {
        return;
    }
    let (lo, hi) = (i.min(j), i.max(j));
    let (head, tail) = v.split_at_mut(hi * stride);
    head[lo * stride..(lo + 1) * stride].swap_with_slice(&mut tail[..stride]);
}

/// Moves the distinct values of a sorted slice to its front; their count.
fn dedup_in_place(list: &mut [usize]) -> usize {
    let mut kept = 0;
    for k in 0..list.len() {
        if kept == 0 || list[k] != list[kept - 1] {
            list[kept] = list[k];
            kept += 1;
        }
    }
    kept
}

/// The regions of a [`super::Partition`], sorted by pattern: an indexable
/// collection of [`Region`] views ([`Regions::get`], [`Regions::iter`]).
///
/// # Examples
///
/// ```
/// use cpwl::regions::{enumerate, EnumOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// let net = Network::builder(2).dense(array![[1.0, 0.0]], array![0.0])?.relu().build()?;
/// let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
/// let regions = part.regions();
/// assert_eq!(regions.len(), 2);
/// assert_eq!(regions.get(0).unwrap().pattern().to_string(), "0");
/// assert_eq!(regions.iter().map(|r| r.neighbors().len()).sum::<usize>(), 2);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Regions<'a> {
    pub(crate) table: &'a RegionTable,
}

impl<'a> Regions<'a> {
    /// The number of regions.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when there is no region.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Region `i`, when in range.
    pub fn get(&self, i: usize) -> Option<Region<'a>> {
        (i < self.len()).then(|| self.table.region(i))
    }

    /// Iterates over the regions in order.
    pub fn iter(&self) -> RegionIter<'a> {
        RegionIter {
            table: self.table,
            range: 0..self.len(),
        }
    }

    /// Every region, owned.
    pub fn to_vec(&self) -> Vec<RegionBuf> {
        self.iter().map(|r| r.to_owned()).collect()
    }

    /// Iterates over the regions in parallel (rayon), in order.
    pub(crate) fn par_iter(&self) -> impl rayon::iter::IndexedParallelIterator<Item = Region<'a>> + 'a {
        use rayon::prelude::*;
        let table = self.table;
        (0..self.len()).into_par_iter().map(move |i| table.region(i))
    }
}

impl PartialEq for Regions<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Regions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Regions<'a> {
    type Item = Region<'a>;
    type IntoIter = RegionIter<'a>;

    fn into_iter(self) -> RegionIter<'a> {
        self.iter()
    }
}

/// The iterator of [`Regions::iter`].
#[derive(Clone, Debug)]
pub struct RegionIter<'a> {
    table: &'a RegionTable,
    range: Range<usize>,
}

impl<'a> Iterator for RegionIter<'a> {
    type Item = Region<'a>;

    fn next(&mut self) -> Option<Region<'a>> {
        self.range.next().map(|i| self.table.region(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }

    fn nth(&mut self, n: usize) -> Option<Region<'a>> {
        self.range.nth(n).map(|i| self.table.region(i))
    }
}

impl DoubleEndedIterator for RegionIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().map(|i| self.table.region(i))
    }
}

impl ExactSizeIterator for RegionIter<'_> {}

impl std::iter::FusedIterator for RegionIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_swap_and_lists_dedup() {
        let mut v = vec![0, 1, 2, 3, 4, 5];
        swap_blocks(&mut v, 2, 2, 0);
        assert_eq!(v, [4, 5, 2, 3, 0, 1]);
        let mut list = [1, 1, 2, 5, 5, 5, 7];
        let kept = dedup_in_place(&mut list);
        assert_eq!(&list[..kept], [1, 2, 5, 7]);
    }
}

#[cfg(test)]
mod round_trip {
    use ndarray::array;

    use crate::regions::{enumerate, EnumOptions, Method, Partition, RegionBuf};
    use crate::{Domain, Network};

    /// Small partitions of each storage kind: 2-D with polygons (the
    /// splitter), 3-D without (the walk), and maxout units (byte patterns,
    /// mixed with patterns of 0s and 1s only).
    fn cases() -> Vec<Partition> {
        let relu = Network::builder(3)
            .dense(
                array![
                    [1.0, 0.3, -0.2],
                    [-0.4, 1.0, 0.5],
                    [0.6, 0.6, 1.0],
                    [0.2, -0.9, 0.3]
                ],
                array![0.1, -0.05, 0.2, 0.0],
            )
            .unwrap()
            .relu()
            .dense(
                array![[1.0, -1.0, 0.5, 0.2], [0.3, 0.2, -0.4, 1.0]],
                array![0.0, 0.1],
            )
            .unwrap()
            .build()
            .unwrap();
        let maxout = Network::builder(2)
            .dense(
                array![
                    [1.0, 0.2],
                    [-0.3, 1.0],
                    [0.5, -0.7],
                    [0.9, 0.4],
                    [-1.0, 0.1],
                    [0.2, 0.8]
                ],
                array![0.0, 0.1, -0.1, 0.05, 0.0, -0.2],
            )
            .unwrap()
            .maxout(3)
            .dense(array![[1.0, -1.0]], array![0.0])
            .unwrap()
            .build()
            .unwrap();
        let square = Domain::boxed(array![-1.0, -1.0], array![1.0, 1.0]);
        let lp = EnumOptions {
            method: Method::Lp,
            ..Default::default()
        };
        vec![
            enumerate(&relu, &Domain::cube(3, -1.0, 1.0), &lp).unwrap(),
            enumerate(&maxout, &square, &EnumOptions::default()).unwrap(),
            enumerate(&maxout, &square, &lp).unwrap(),
        ]
    }

    #[test]
    fn views_equal_the_owned_regions_pushed_in_any_order() {
        for part in cases() {
            let n = part.len();
            assert!(n > 3);
            // Owned copies in reverse order, neighbours as indices in that order:
            // what a builder hands to `assemble`.
            let pushed: Vec<RegionBuf> = (0..n)
                .rev()
                .map(|i| {
                    let mut r = part.region(i).to_owned();
                    r.neighbors = r.neighbors.iter().map(|&j| n - 1 - j).collect();
                    r
                })
                .collect();
            // Expected, independently of the table: sorted by pattern, each
            // neighbour found by its pattern.
            let mut sorted = pushed.clone();
            // (Lexicographic order of the unit values, not `Pattern`'s own
            // comparison, which the table's sort uses.)
            sorted.sort_by_key(|r| r.pattern.iter().collect::<Vec<u8>>());
            let index_of = |r: &RegionBuf| sorted.iter().position(|s| s.pattern == r.pattern).unwrap();
            let back = Partition::assemble(
                pushed.clone(),
                *part.stats(),
                part.domain().clone(),
                part.network().clone(),
            );
            assert_eq!(back.len(), n);
            for (i, want) in sorted.iter().enumerate() {
                let mut want = want.clone();
                want.neighbors = want.neighbors.iter().map(|&j| index_of(&pushed[j])).collect();
                want.neighbors.sort_unstable();
                assert_eq!(back.region(i).to_owned(), want, "region {i}");
                assert_eq!(back.region(i), want.view());
                assert_eq!(back.find(&want.pattern), Some(i));
            }
            assert_eq!(back.regions(), part.regions());
            assert!(back.memory_bytes() >= n * std::mem::size_of::<f64>() * 3);
        }
    }

    #[test]
    fn byte_patterns_are_used_once_a_value_exceeds_one() {
        let part = &cases()[1];
        let values: Vec<Vec<u8>> = part.regions().iter().map(|r| r.pattern().to_values()).collect();
        assert!(values.iter().any(|v| v.iter().all(|&x| x <= 1)));
        assert!(values.iter().any(|v| v.iter().any(|&x| x > 1)));
        // The owned patterns say the same, in the same (text) order.
        let texts: Vec<String> = part
            .regions()
            .iter()
            .map(|r| r.pattern().to_owned().to_string())
            .collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
    }
}
