//! Cutting cells: the side of a cell for a unit's line, the cuts by the
//! lines of a two-piece layer, and the clipping of max units to their winners.

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::geometry::predicates::{classify, line_sign, Sign};
use crate::geometry::{cut_piece, cut_piece_into};
use crate::network::PADDING;
use crate::regions::hrep::RowSource;
use crate::tol::{TOL_ROUNDING_MARGIN_REL, TOL_SIGN_REL};

/// An edge of a cell: where its line comes from, and the line as
/// `line[0] s + line[1] t + line[2] <= 0` inside the cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct EdgeTag {
    pub(super) source: RowSource,
    pub(super) line: [f64; 3],
}

/// A convex cell: its vertices (counter-clockwise), a tag per edge (edge `k`
/// runs from vertex `k` to the next) and the pattern of the units so far
/// (only those: the pattern grows layer by layer, so that the copies made
/// when a cell splits are short in the early layers).
#[derive(Clone, Debug)]
pub(super) struct Cell {
    pub(super) vertices: Vec<[f64; 2]>,
    pub(super) tags: Vec<EdgeTag>,
    pub(super) pattern: Vec<u8>,
}

/// The largest coordinate magnitude of the vertices: with it,
/// [`line_scale`] bounds the terms of `a . p + c` at every vertex.
pub(super) fn max_coordinate(vertices: &[[f64; 2]]) -> f64 {
    vertices
        .iter()
        .map(|p| p[0].abs().max(p[1].abs()))
        .fold(0.0, f64::max)
}

/// The tolerance scale of `a . p + c` over a cell whose vertex coordinates
/// are at most `reach` in magnitude: `(|a_0| + |a_1|) reach + |c|`, a bound
/// of the terms summed at every vertex, the same for the whole cell.
pub(super) fn line_scale(a: [f64; 2], c: f64, reach: f64) -> f64 {
    (a[0].abs() + a[1].abs()) * reach + c.abs()
}

/// Where a cell lies relative to a line.
#[derive(Clone, Copy)]
enum Side {
    /// Wholly in `a . p + c <= 0` (every vertex on the line included).
    Negative,
    /// Wholly in `a . p + c >= 0`, some vertex strictly positive.
    Positive,
    /// Vertices strictly on both sides.
    Both,
}

fn side_of(vertices: &[[f64; 2]], a: [f64; 2], c: f64, scale: f64, signs: &mut Vec<(f64, Sign)>) -> Side {
    signs.clear();
    signs.extend(vertices.iter().map(|&p| line_sign(a, c, p, scale)));
    let has = |sign| signs.iter().any(|&(_, s)| s == sign);
    match (has(Sign::Negative), has(Sign::Positive)) {
        (_, false) => Side::Negative,
        (false, true) => Side::Positive,
        (true, true) => Side::Both,
    }
}

/// Cuts a cell by the lines of two-piece units `offset..offset + len` (rows:
/// their pre-activations on the cell) and sets each piece's bits: `1` where
/// the pre-activation is positive. A line that misses the cell, touches it at
/// a vertex or runs along an edge leaves it whole, and so does a unit whose
/// line repeats an earlier one (its bit comes from the side the cell is on);
/// a dead unit (zero row) has the bit of its constant.
///
/// The pieces come out in the order of cutting the whole list of pieces by
/// each unit in turn (each piece replaced by its lower, then upper part),
/// which is the depth-first order of the cuts: every piece goes on through
/// the later units by itself, so that a unit whose line crosses the cell but
/// misses the piece is settled by the piece's quick side test. With
/// `fan_out`, the first pieces of a cell that many lines cross are cut
/// further on rayon's threads (a layer's first cell is the whole domain).
///
/// `halt` is polled every [`WORK_PER_POLL`] units of work (a piece's side for
/// a unit): when it says so, the split stops and its unfinished pieces are
/// returned, for the caller to drop.
pub(super) fn split_two_piece(
    mut cell: Cell,
    rows: ArrayView2<f64>,
    (offset, len): (usize, usize),
    fan_out: bool,
    halt: &(impl Fn() -> bool + Sync + ?Sized),
) -> Vec<Cell> {
    let layer = Layer::new(&mut cell, rows, (offset, len), halt);
    if fan_out {
        layer.fan_out(cell)
    } else {
        layer.children(cell, 0)
    }
}

/// [`split_two_piece`] of one cell in parts: the cell first cut breadth
/// first into [`FAN_OUT_PIECES`] pieces, each refined on demand
/// ([`Pieces::refine`]), so that a caller can finish one piece's children
/// before it makes the next's. Piece after piece, the children come out as
/// [`split_two_piece`]'s, in the same order, bit for bit.
pub(super) struct Pieces<'h, H: ?Sized> {
    layer: Layer<'h, H>,
    /// The pieces, with the index (among the crossing units) of the first
    /// unit each is still to be cut by.
    open: Vec<(Cell, usize)>,
}

impl<'h, H: Fn() -> bool + Sync + ?Sized> Pieces<'h, H> {
    /// The pieces of `cell` (arguments as for [`split_two_piece`]); `None`
    /// when `halt` stopped the split.
    pub(super) fn new(
        mut cell: Cell,
        rows: ArrayView2<f64>,
        units: (usize, usize),
        halt: &'h H,
    ) -> Option<Pieces<'h, H>> {
        let layer = Layer::new(&mut cell, rows, units, halt);
        let open = layer.open(cell).ok()?;
        Some(Pieces { layer, open })
    }

    /// The number of pieces.
    pub(super) fn len(&self) -> usize {
        self.open.len()
    }

    /// The final pieces (children) of piece `k`; unfinished ones too when
    /// `halt` stopped the split (the caller sees its flags and drops them).
    pub(super) fn refine(&self, k: usize) -> Vec<Cell> {
        let (piece, from) = &self.open[k];
        self.layer.children(piece.clone(), *from)
    }
}

/// Sets `bits[j]` for every unit `j` whose line (row `j` of `rows`) misses
/// the cell or only touches it, as [`UnitSides::side`] decides, and returns
/// the others (those that cross it) with their lines. The quick test runs
/// over all units in one pass without branches; the few it leaves open get
/// the test at every vertex.
fn settle_units(
    vertices: &[[f64; 2]],
    rows: ArrayView2<f64>,
    reach: f64,
    bits: &mut [u8],
) -> Vec<(usize, Line)> {
    let sides = UnitSides::new(vertices);
    let len = bits.len();
    // The flat split below needs rows exactly `len` wide: a wider block is
    // cut to its first `len` columns (copied only then).
    let rows = rows.slice(ndarray::s![.., ..len]);
    let rows = rows.as_standard_layout();
    let flat = rows.as_slice().expect("standard layout");
    let (ds, rest) = flat.split_at(len);
    let (dt, offsets) = rest.split_at(len);
    /// The code of a unit the quick test leaves open.
    const OPEN: u8 = 2;
    let [x, y] = sides.anchor;
    for (((bit, &a0), &a1), &c) in bits.iter_mut().zip(ds).zip(dt).zip(offsets) {
        // The arithmetic of `line_scale`, `UnitSides::side` and `classify`.
        let norm = a0.abs() + a1.abs();
        let scale = norm * reach + c.abs();
        let at_anchor = a0 * x + a1 * y + c;
        let change = norm * sides.spread * (1.0 + TOL_ROUNDING_MARGIN_REL) + TOL_ROUNDING_MARGIN_REL * scale;
        let tol = TOL_SIGN_REL * scale;
        // NaN, as in `classify`, is not positive.
        let may_be_positive = at_anchor + change > tol;
        let positive = at_anchor - change > tol;
        *bit = u8::from(positive) | (u8::from(may_be_positive & !positive) * OPEN);
    }
    let mut crossing = Vec::new();
    for (j, bit) in bits.iter_mut().enumerate().filter(|(_, b)| **b == OPEN) {
        let (a, c) = ([ds[j], dt[j]], offsets[j]);
        let scale = line_scale(a, c, reach);
        *bit = match sides.side(vertices, a, c, scale) {
            Side::Negative => 0,
            Side::Positive => 1,
            Side::Both => {
                crossing.push((j, (a, c, scale)));
                0
            }
        };
    }
    crossing
}

/// A unit's line on a cell: `a`, `c` and the tolerance scale of `a . p + c`.
type Line = ([f64; 2], f64, f64);

/// Pieces a cell is first cut into, with `fan_out`, before they go on in
/// parallel: enough to keep two threads busy while their work stays even.
const FAN_OUT_PIECES: usize = 64;

/// One cell's split by a two-piece layer.
struct Layer<'h, H: ?Sized> {
    /// The units whose lines cross the cell (index in the layer, line).
    crossing: Vec<(usize, Line)>,
    offset: usize,
    halt: &'h H,
}

/// What [`Layer::advance`] leaves of a piece.
enum Advance {
    /// Every unit settled: the piece is final.
    Done(Cell),
    /// Cut by a unit: the lower and upper parts, and the next crossing unit.
    Cut(Cell, Cell, usize),
    /// Stopped by the halt flag.
    Halted(Cell),
}

impl<'h, H: Fn() -> bool + Sync + ?Sized> Layer<'h, H> {
    /// The split of `cell` by units `offset..offset + len` (rows: their
    /// pre-activations on the cell). The cell's pattern grows to hold the
    /// layer, with the bits of the units that miss the cell set: set before
    /// the first cut, they pass to every piece with the pattern.
    fn new(cell: &mut Cell, rows: ArrayView2<f64>, (offset, len): (usize, usize), halt: &'h H) -> Self {
        let reach = max_coordinate(&cell.vertices);
        cell.pattern.resize(offset + len, 0);
        let crossing = settle_units(&cell.vertices, rows, reach, &mut cell.pattern[offset..]);
        Layer {
            crossing,
            offset,
            halt,
        }
    }

    /// Sets the piece's bits of the crossing units from the `from`-th on,
    /// until a unit's line cuts it.
    fn advance(&self, mut piece: Cell, from: usize, poll: &mut Poll, scratch: &mut Scratch) -> Advance {
        let sides = UnitSides::new(&piece.vertices);
        for (k, &(j, line)) in self.crossing.iter().enumerate().skip(from) {
            if poll.due(1) && (self.halt)() {
                return Advance::Halted(piece);
            }
            let unit = self.offset + j;
            let (a, c, scale) = line;
            piece = match sides.side(&piece.vertices, a, c, scale) {
                side @ (Side::Negative | Side::Positive) => {
                    piece.pattern[unit] = u8::from(matches!(side, Side::Positive));
                    piece
                }
                Side::Both => match cut_by_unit(piece, line, unit, scratch) {
                    Cut::Whole(piece) => piece,
                    Cut::Two(lower, upper) => return Advance::Cut(lower, upper, k + 1),
                },
            };
        }
        Advance::Done(piece)
    }

    /// The final pieces of `piece` cut by the crossing units `from..`
    /// ([`Layer::refine`] into a new list): the one body of a whole cell's
    /// split, of [`Pieces::refine`] and of each of [`Layer::fan_out`]'s pieces.
    fn children(&self, piece: Cell, from: usize) -> Vec<Cell> {
        let mut out = Vec::new();
        self.refine(piece, from, &mut Poll::default(), &mut out);
        out
    }

    /// Cuts a piece by units `from..` depth first, pushing its final pieces
    /// (lower parts first); when halted, the unfinished pieces are pushed too
    /// (the caller sees the halt or overflow flag and drops them).
    fn refine(&self, piece: Cell, from: usize, poll: &mut Poll, out: &mut Vec<Cell>) {
        let mut scratch = Scratch::default();
        let mut stack = vec![(piece, from)];
        while let Some((piece, from)) = stack.pop() {
            match self.advance(piece, from, poll, &mut scratch) {
                Advance::Done(piece) => out.push(piece),
                Advance::Cut(lower, upper, next) => {
                    stack.push((upper, next));
                    stack.push((lower, next));
                }
                Advance::Halted(piece) => {
                    out.push(piece);
                    out.extend(stack.into_iter().rev().map(|(p, _)| p));
                    return;
                }
            }
        }
    }

    /// Cuts the cell breadth first into [`FAN_OUT_PIECES`] pieces (or its
    /// final ones), each with the first crossing unit it is still to be cut
    /// by; when halted, every piece so far, unfinished.
    fn open(&self, cell: Cell) -> Result<Vec<(Cell, usize)>, Vec<Cell>> {
        let (mut open, mut poll, mut scratch) = (vec![(cell, 0)], Poll::default(), Scratch::default());
        let len = self.crossing.len();
        while open.len() < FAN_OUT_PIECES && open.iter().any(|(_, from)| *from < len) {
            let mut next = Vec::with_capacity(2 * open.len());
            for (piece, from) in open {
                match self.advance(piece, from, &mut poll, &mut scratch) {
                    Advance::Done(piece) => next.push((piece, len)),
                    Advance::Cut(lower, upper, j) => next.extend([(lower, j), (upper, j)]),
                    Advance::Halted(piece) => next.push((piece, usize::MAX)),
                }
            }
            if next.iter().any(|(_, from)| *from == usize::MAX) {
                return Err(next.into_iter().map(|(p, _)| p).collect());
            }
            open = next;
        }
        Ok(open)
    }

    /// [`Layer::open`], then the pieces refined in parallel, keeping their
    /// order.
    fn fan_out(&self, cell: Cell) -> Vec<Cell> {
        let open = match self.open(cell) {
            Ok(open) => open,
            Err(unfinished) => return unfinished,
        };
        open.into_par_iter()
            .map(|(piece, from)| self.children(piece, from))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Units of work (a unit's side test, or one piece cut by a line) between
/// two polls of the stop flag during a split: a few tens of microseconds, so
/// that a stop lands within milliseconds even inside a wide layer, while the
/// poll (an atomic load and a clock read) stays out of the hot loop's cost.
pub(super) const WORK_PER_POLL: usize = 1024;

/// Counts work and says when the stop flag is due to be polled.
#[derive(Default)]
struct Poll {
    work: usize,
}

impl Poll {
    /// Adds `work` units; true (and the count reset) once a poll is due.
    fn due(&mut self, work: usize) -> bool {
        self.work += work;
        if self.work >= WORK_PER_POLL {
            self.work = 0;
            return true;
        }
        false
    }
}

/// Where a cell lies relative to the lines of its units: first from the
/// value at one vertex and a bound of the change across the cell, which
/// settles most units, those whose lines pass far from the cell; else from
/// the value at every vertex, computed as [`line_sign`] computes it. The
/// bound is widened past every rounding error and [`classify`] is monotone,
/// so the first way never decides otherwise than the second.
struct UnitSides {
    anchor: [f64; 2],
    /// The largest coordinate difference between a vertex and the first one.
    spread: f64,
}

impl UnitSides {
    fn new(vertices: &[[f64; 2]]) -> UnitSides {
        let anchor = vertices[0];
        let spread = vertices
            .iter()
            .map(|p| (p[0] - anchor[0]).abs().max((p[1] - anchor[1]).abs()))
            .fold(0.0, f64::max);
        UnitSides { anchor, spread }
    }

    /// The side of the cell with these `vertices` (those `new` was given)
    /// for the line `a . p + c` (tolerance scale `scale`).
    fn side(&self, vertices: &[[f64; 2]], a: [f64; 2], c: f64, scale: f64) -> Side {
        let anchor = self.anchor;
        let at_anchor = a[0] * anchor[0] + a[1] * anchor[1] + c;
        let change = (a[0].abs() + a[1].abs()) * self.spread * (1.0 + TOL_ROUNDING_MARGIN_REL)
            + TOL_ROUNDING_MARGIN_REL * scale;
        if classify(at_anchor + change, scale) != Sign::Positive {
            return Side::Negative;
        }
        if classify(at_anchor - change, scale) == Sign::Positive {
            return Side::Positive;
        }
        let (lo, hi) = vertices
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                let v = a[0] * p[0] + a[1] * p[1] + c;
                (lo.min(v), hi.max(v))
            });
        side_of_range(lo, hi, scale)
    }
}

/// Where a cell lies relative to a line whose values at the vertices range
/// over `[lo, hi]`: [`side_of`] without the per-vertex signs.
fn side_of_range(lo: f64, hi: f64, scale: f64) -> Side {
    match (
        classify(lo, scale) == Sign::Negative,
        classify(hi, scale) == Sign::Positive,
    ) {
        (_, false) => Side::Negative,
        (false, true) => Side::Positive,
        (true, true) => Side::Both,
    }
}

/// Scratch space of one cell's split, reused from cut to cut.
#[derive(Default)]
struct Scratch {
    /// The value and side of every vertex of the piece being cut.
    signs: Vec<(f64, Sign)>,
    /// A polygon's vectors: the lower piece is cut into them, and they then
    /// trade places with the piece's old ones.
    vertices: Vec<[f64; 2]>,
    tags: Vec<EdgeTag>,
}

/// A piece after [`cut_by_unit`].
enum Cut {
    /// Not cut (the line only touches it): its bit is set.
    Whole(Cell),
    /// The lower and the upper part.
    Two(Cell, Cell),
}

/// Cuts one piece by a unit's line (`a . p + c`, tolerance scale `scale`),
/// setting the unit's bit of the piece(s).
fn cut_by_unit(mut piece: Cell, (a, c, scale): Line, unit: usize, scratch: &mut Scratch) -> Cut {
    let signs = &mut scratch.signs;
    let whole = |mut piece: Cell, bit: u8| {
        piece.pattern[unit] = bit;
        Cut::Whole(piece)
    };
    match side_of(&piece.vertices, a, c, scale, signs) {
        Side::Negative => whole(piece, 0),
        Side::Positive => whole(piece, 1),
        Side::Both => {
            let source = RowSource::Unit(unit);
            let below = EdgeTag {
                source,
                line: [a[0], a[1], c],
            };
            let above = EdgeTag {
                source,
                line: [-a[0], -a[1], -c],
            };
            let (vertices, tags) = (&piece.vertices, &piece.tags);
            let neg = cut_piece_into(
                vertices,
                tags,
                signs,
                Sign::Negative,
                below,
                (&mut scratch.vertices, &mut scratch.tags),
            );
            let pos = cut_piece(vertices, tags, signs, Sign::Positive, above);
            match (neg, pos) {
                (true, Some((pv, pt))) => {
                    let mut upper = Cell {
                        vertices: pv,
                        tags: pt,
                        pattern: piece.pattern.clone(),
                    };
                    upper.pattern[unit] = 1;
                    std::mem::swap(&mut piece.vertices, &mut scratch.vertices);
                    std::mem::swap(&mut piece.tags, &mut scratch.tags);
                    piece.pattern[unit] = 0;
                    Cut::Two(piece, upper)
                }
                (false, _) => whole(piece, 1),
                (_, None) => whole(piece, 0),
            }
        }
    }
}

/// Clips a cell into the pieces where each candidate of max units
/// `offset..` wins (`cand`: `width` input indices per unit, [`PADDING`] for
/// padding), setting each piece's unit to the winner's window position. Ties
/// go to the lowest position: a candidate that equals a lower one on the
/// whole piece gets nothing. `halt` is polled as in [`split_two_piece`].
pub(super) fn split_max(
    cell: &Cell,
    rows: ArrayView2<f64>,
    (width, cand): (usize, &[u32]),
    offset: usize,
    halt: &(impl Fn() -> bool + ?Sized),
) -> Vec<Cell> {
    let mut pieces = vec![cell.clone()];
    pieces[0].pattern.resize(offset + cand.len() / width, 0);
    let mut signs = Vec::with_capacity(cell.vertices.len() + 4);
    let mut poll = Poll::default();
    for (j, taps) in cand.chunks_exact(width).enumerate() {
        if poll.due(pieces.len() * width) && halt() {
            return pieces;
        }
        let unit = offset + j;
        let mut next = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            for (k, &tk) in taps.iter().enumerate().filter(|(_, &t)| t != PADDING) {
                if let Some((vertices, tags)) =
                    winner_piece(piece, rows, taps, k, tk as usize, unit, &mut signs)
                {
                    let mut pattern = piece.pattern.clone();
                    pattern[unit] = k as u8;
                    next.push(Cell {
                        vertices,
                        tags,
                        pattern,
                    });
                }
            }
        }
        pieces = next;
    }
    pieces
}

/// The part of `piece` where candidate `k` (input `tk`) of a max unit wins.
fn winner_piece(
    piece: &Cell,
    rows: ArrayView2<f64>,
    taps: &[u32],
    k: usize,
    tk: usize,
    unit: usize,
    signs: &mut Vec<(f64, Sign)>,
) -> Option<(Vec<[f64; 2]>, Vec<EdgeTag>)> {
    let radius = max_coordinate(&piece.vertices);
    let mut vertices = piece.vertices.clone();
    let mut tags = piece.tags.clone();
    for (r, &tr) in taps.iter().enumerate().filter(|&(r, &t)| t != PADDING && r != k) {
        let tr = tr as usize;
        // Rival r beats k where z_r - z_k > 0 (or >= 0 when r comes first).
        let line = [
            rows[[0, tr]] - rows[[0, tk]],
            rows[[1, tr]] - rows[[1, tk]],
            rows[[2, tr]] - rows[[2, tk]],
        ];
        let a = [line[0], line[1]];
        let scale = line_scale(a, line[2], radius);
        match side_of(&vertices, a, line[2], scale, signs) {
            Side::Negative if r < k && signs.iter().all(|&(_, s)| s == Sign::Zero) => return None,
            Side::Negative => {}
            Side::Positive => return None,
            Side::Both => {
                let tag = EdgeTag {
                    source: RowSource::MaxRival { unit, rival: r as u8 },
                    line,
                };
                (vertices, tags) = cut_piece(&vertices, &tags, signs, Sign::Negative, tag)?;
            }
        }
    }
    Some((vertices, tags))
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ndarray::array;

    use super::*;
    use crate::geometry::signed_area;

    /// A tag of unit `unit` on a line of its own.
    pub(crate) fn tag(unit: usize) -> EdgeTag {
        EdgeTag {
            source: RowSource::Unit(unit),
            line: [unit as f64, 1.0, 0.0],
        }
    }

    #[test]
    fn repeated_and_dead_units_get_bits_without_cuts() {
        let cell = Cell {
            vertices: vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
            tags: (0..4).map(tag).collect(),
            pattern: vec![0; 4],
        };
        // Units: x, x again, the constant 0.5 and the constant 0.
        let rows = array![[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0]];
        let pieces = split_two_piece(cell, rows.view(), (0, 4), false, &|| false);
        assert_eq!(pieces.len(), 2);
        let mut bits: Vec<Vec<u8>> = pieces.iter().map(|p| p.pattern.clone()).collect();
        bits.sort();
        assert_eq!(bits, [vec![0, 0, 1, 0], vec![1, 1, 1, 0]]);
        let total: f64 = pieces.iter().map(|p| signed_area(&p.vertices)).sum();
        assert_eq!(total, 4.0);
    }

    /// The square cut by `n` vertical lines `s = -1 + (j + 0.5) 2 / n`: `n + 1` strips.
    fn strips(n: usize) -> (Cell, ndarray::Array2<f64>) {
        let cell = Cell {
            vertices: vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
            tags: (0..4).map(tag).collect(),
            pattern: Vec::new(),
        };
        let mut rows = ndarray::Array2::zeros((3, n));
        for j in 0..n {
            rows[[0, j]] = 1.0;
            rows[[2, j]] = 1.0 - (j as f64 + 0.5) * 2.0 / n as f64;
        }
        (cell, rows)
    }

    #[test]
    fn a_split_polls_the_stop_flag_and_stops_inside_the_layer() {
        let n = 200;
        let (cell, rows) = strips(n);
        let polls = AtomicUsize::new(0);
        let never = || {
            polls.fetch_add(1, Ordering::Relaxed);
            false
        };
        assert_eq!(
            split_two_piece(cell.clone(), rows.view(), (0, n), false, &never).len(),
            n + 1
        );
        // Work grows with the pieces (1 + 2 + ... + n of them, at most n
        // past each poll): polled often.
        let all_polls = polls.load(Ordering::Relaxed);
        assert!(
            all_polls >= (n * n / 2) / (WORK_PER_POLL + n),
            "{all_polls} polls"
        );
        // Stopped at the second poll: far fewer pieces, long before the last unit.
        polls.store(0, Ordering::Relaxed);
        let second = || {
            polls.fetch_add(1, Ordering::Relaxed);
            polls.load(Ordering::Relaxed) == 2
        };
        let cut_short = split_two_piece(cell, rows.view(), (0, n), false, &second);
        assert_eq!(polls.load(Ordering::Relaxed), 2);
        assert!(cut_short.len() < n / 2, "{} pieces", cut_short.len());
        // Max units poll too: unit j is the max of line j and the constant 0.
        let (cell, lines) = strips(n);
        let mut rows = ndarray::Array2::zeros((3, 2 * n));
        for j in 0..n {
            rows.column_mut(2 * j).assign(&lines.column(j));
        }
        let pairs: Vec<u32> = (0..2 * n as u32).collect();
        polls.store(0, Ordering::Relaxed);
        let first = || {
            polls.fetch_add(1, Ordering::Relaxed);
            true
        };
        let stopped = split_max(&cell, rows.view(), (2, &pairs), 0, &first);
        assert_eq!(polls.load(Ordering::Relaxed), 1);
        assert!(stopped.len() < n, "{} pieces", stopped.len());
    }

    #[test]
    fn the_quick_side_test_agrees_with_every_vertex() {
        let vertices = vec![[0.3, -1.2], [2.5, -0.7], [2.1, 1.9], [-0.4, 0.6]];
        let sides = UnitSides::new(&vertices);
        let reach = max_coordinate(&vertices);
        let mut seed = 12345u64;
        let mut uniform = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let name = |side: Side| match side {
            Side::Negative => 0,
            Side::Positive => 1,
            Side::Both => 2,
        };
        for k in 0..2000 {
            let a = [uniform(), uniform()];
            // Offsets through the cell, near it and far from it; every tenth
            // line passes exactly through a vertex.
            let mut c = 4.0 * uniform();
            if k % 10 == 0 {
                let p = vertices[k % vertices.len()];
                c = -(a[0] * p[0] + a[1] * p[1]);
            }
            let scale = line_scale(a, c, reach);
            let values: Vec<f64> = vertices.iter().map(|p| a[0] * p[0] + a[1] * p[1] + c).collect();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(
                name(sides.side(&vertices, a, c, scale)),
                name(side_of_range(lo, hi, scale)),
                "line {a:?}, {c}"
            );
        }
    }

    /// A seeded uniform draw in [-1, 1).
    pub(crate) fn uniform(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    #[test]
    fn settled_units_get_the_bits_of_the_side_test() {
        let vertices = vec![[0.3, -1.2], [2.5, -0.7], [2.1, 1.9], [-0.4, 0.6]];
        let (reach, sides) = (max_coordinate(&vertices), UnitSides::new(&vertices));
        let mut seed = 99u64;
        let n = 500;
        let mut rows = ndarray::Array2::zeros((3, n));
        for j in 0..n {
            rows[[0, j]] = uniform(&mut seed);
            rows[[1, j]] = uniform(&mut seed);
            rows[[2, j]] = 4.0 * uniform(&mut seed);
            if j % 7 == 0 {
                // Through a vertex.
                let p = vertices[j % 4];
                rows[[2, j]] = -(rows[[0, j]] * p[0] + rows[[1, j]] * p[1]);
            }
        }
        let mut bits = vec![9; n];
        let crossing = settle_units(&vertices, rows.view(), reach, &mut bits);
        let crossing: Vec<usize> = crossing.iter().map(|&(j, _)| j).collect();
        for j in 0..n {
            let (a, c) = ([rows[[0, j]], rows[[1, j]]], rows[[2, j]]);
            let (bit, crosses) = match sides.side(&vertices, a, c, line_scale(a, c, reach)) {
                Side::Negative => (0, false),
                Side::Positive => (1, false),
                Side::Both => (0, true),
            };
            assert_eq!((bits[j], crossing.contains(&j)), (bit, crosses), "unit {j}");
        }
        assert!(
            crossing.len() > n / 10 && crossing.len() < n,
            "{} cross",
            crossing.len()
        );
    }

    /// The square `[-1, 1]^2` as a cell, and `n` random lines (uniform
    /// coefficients in `[-1, 1)`) as a layer's rows: several hundred faces
    /// for `n = 60`.
    pub(crate) fn random_lines(n: usize) -> (ndarray::Array2<f64>, Cell) {
        let mut seed = 7u64;
        let mut rows = ndarray::Array2::zeros((3, n));
        for j in 0..n {
            for i in 0..3 {
                rows[[i, j]] = uniform(&mut seed);
            }
        }
        let square = Cell {
            vertices: vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
            tags: (0..4).map(tag).collect(),
            pattern: Vec::new(),
        };
        (rows, square)
    }

    #[test]
    fn random_lines_cut_the_square_into_the_faces_of_their_arrangement() {
        let n = 60;
        let (rows, square) = random_lines(n);
        let serial = split_two_piece(square.clone(), rows.view(), (0, n), false, &|| false);
        let parallel = split_two_piece(square, rows.view(), (0, n), true, &|| false);
        // The same pieces in the same order, bit for bit, on any thread count.
        assert_eq!(serial.len(), parallel.len());
        for (p, q) in serial.iter().zip(&parallel) {
            assert_eq!((&p.vertices, &p.pattern), (&q.vertices, &q.pattern));
        }
        // Faces of lines in general position inside the square: one, plus
        // one per line that crosses it, plus one per crossing of two lines
        // inside it (counted by brute force).
        let line = |j: usize| [rows[[0, j]], rows[[1, j]], rows[[2, j]]];
        let crosses = |l: [f64; 3]| {
            let corners = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]];
            let values: Vec<f64> = corners.iter().map(|p| l[0] * p[0] + l[1] * p[1] + l[2]).collect();
            values.iter().any(|&v| v > 0.0) && values.iter().any(|&v| v < 0.0)
        };
        let mut faces = 1 + (0..n).filter(|&j| crosses(line(j))).count();
        for j in 0..n {
            for k in j + 1..n {
                let (p, q) = (line(j), line(k));
                let det = p[0] * q[1] - p[1] * q[0];
                let x = (-p[2] * q[1] + q[2] * p[1]) / det;
                let y = (-p[0] * q[2] + q[0] * p[2]) / det;
                faces += usize::from(x.abs() < 1.0 && y.abs() < 1.0);
            }
        }
        assert_eq!(serial.len(), faces);
        let area: f64 = serial.iter().map(|p| signed_area(&p.vertices)).sum();
        assert!((area - 4.0).abs() < 1e-12, "{area}");
        // Every piece's bits are the signs of the lines at its centroid.
        for p in &serial {
            let m = p.vertices.len() as f64;
            let centroid = [
                p.vertices.iter().map(|v| v[0]).sum::<f64>() / m,
                p.vertices.iter().map(|v| v[1]).sum::<f64>() / m,
            ];
            for j in 0..n {
                let l = line(j);
                let value = l[0] * centroid[0] + l[1] * centroid[1] + l[2];
                assert_eq!(p.pattern[j], u8::from(value > 0.0));
            }
        }
    }

    #[test]
    fn max_units_clip_to_winners() {
        let cell = Cell {
            vertices: vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
            tags: (0..4).map(tag).collect(),
            pattern: vec![0],
        };
        // Candidates x, y and x again (never wins: it ties candidate 0).
        let rows = array![[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
        let pieces = split_max(&cell, rows.view(), (3, &[0, 1, 2]), 0, &|| false);
        let winners: Vec<u8> = pieces.iter().map(|p| p.pattern[0]).collect();
        assert_eq!(winners, [0, 1]);
        for p in &pieces {
            assert_eq!(signed_area(&p.vertices), 2.0);
            let cut = p
                .tags
                .iter()
                .find(|t| matches!(t.source, RowSource::MaxRival { .. }))
                .unwrap();
            let expected = if p.pattern[0] == 0 { 1 } else { 0 };
            assert_eq!(
                cut.source,
                RowSource::MaxRival {
                    unit: 0,
                    rival: expected
                }
            );
        }
    }
}
