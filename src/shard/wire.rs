//! A compact binary form of shard jobs and results: little-endian numbers,
//! every sequence prefixed by its length, no dependency.
//!
//! Layout (all integers `u32` or `u64` little-endian, floats `f64` bits):
//! a job is `MAGIC_JOB`, index, count, axis (`u32`), lo and hi (a flag byte
//! then the value), tol_radius; a result is `MAGIC_RESULT`, tol_radius, index,
//! count, the counters, then the pieces. A pattern is a flag byte (0:
//! one bit per unit, 1: one byte per unit), its length and its data.

use ndarray::{Array1, Array2};

use super::{Piece, ShardJob, ShardResult};
use crate::regions::{EnumStats, Method, RegionBuf, RowSource};
use crate::{Affine, Error, Pattern, Polytope, Result};

const MAGIC_JOB: &[u8; 4] = b"CPJ1";
const MAGIC_RESULT: &[u8; 4] = b"CPR1";

/// Appends values to a byte buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    /// A buffer that starts with a record's tag.
    pub(crate) fn tagged(tag: &[u8]) -> Writer {
        Writer { bytes: tag.to_vec() }
    }
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    pub(crate) fn u32(&mut self, v: usize) {
        // Lengths and indices of a shard fit in 32 bits (checked on reading).
        self.bytes.extend_from_slice(&(v as u32).to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        self.u8(u8::from(v.is_some()));
        if let Some(v) = v {
            self.f64(v);
        }
    }
    fn floats<'a>(&mut self, v: impl ExactSizeIterator<Item = &'a f64>) {
        self.u32(v.len());
        for x in v {
            self.f64(*x);
        }
    }
    pub(crate) fn matrix(&mut self, m: &Array2<f64>) {
        self.u32(m.nrows());
        self.u32(m.ncols());
        for x in m {
            self.f64(*x);
        }
    }
    pub(crate) fn pattern(&mut self, p: &Pattern) {
        let values = p.to_values();
        let bits = values.iter().all(|&v| v <= 1);
        self.u8(u8::from(!bits));
        self.u32(values.len());
        if bits {
            for chunk in values.chunks(8) {
                self.u8(chunk.iter().enumerate().fold(0, |b, (k, &v)| b | (v << k)));
            }
        } else {
            self.bytes.extend_from_slice(&values);
        }
    }
    fn source(&mut self, s: RowSource) {
        match s {
            RowSource::Domain(i) => {
                self.u8(0);
                self.u32(i);
            }
            RowSource::Unit(u) => {
                self.u8(1);
                self.u32(u);
            }
            RowSource::MaxRival { unit, rival } => {
                self.u8(2);
                self.u32(unit);
                self.u8(rival);
            }
        }
    }
    fn region(&mut self, r: &RegionBuf) {
        self.pattern(&r.pattern);
        self.matrix(&r.polytope.a);
        self.floats(r.polytope.b.iter());
        self.u32(r.sources.len());
        for s in &r.sources {
            self.source(*s);
        }
        self.floats(r.center.iter());
        self.f64(r.radius);
        self.matrix(&r.affine.a);
        self.floats(r.affine.b.iter());
        self.opt_f64(r.volume);
        self.u8(u8::from(r.polygon.is_some()));
        if let Some(poly) = &r.polygon {
            self.floats(poly.as_flattened().iter());
        }
    }
    pub(crate) fn piece(&mut self, p: &Piece) {
        self.region(&p.region);
        self.u32(p.neighbors.len());
        for q in &p.neighbors {
            self.pattern(q);
        }
        self.u8(u8::from(p.border));
    }
    pub(crate) fn stats(&mut self, s: &EnumStats) {
        self.u64(s.regions as u64);
        self.u64(s.rejected_thin as u64);
        self.u64(s.rejected_flat as u64);
        self.u64(s.lps_solved as u64);
        self.u64(s.lps_skipped as u64);
        self.u64(s.elapsed.as_nanos().min(u128::from(u64::MAX)) as u64);
        self.u8(match s.method {
            Method::Auto => 0,
            Method::Lp => 1,
            Method::PlaneSplit => 2,
            Method::Skeleton => 3,
        });
    }
}

/// Reads values back, with a typed error at the first inconsistency.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { bytes, at: 0, what }
    }
    fn fail(&self, why: impl std::fmt::Display) -> Error {
        Error::invalid(self.what, format!("{why} at byte {}", self.at))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.fail("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }
    fn usize(&mut self) -> Result<usize> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| self.fail("count too large"))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.fail(format!("flag {v}"))),
        }
    }
    fn opt_f64(&mut self) -> Result<Option<f64>> {
        Ok(if self.flag()? { Some(self.f64()?) } else { None })
    }
    /// A length, checked against the bytes left (each item takes at least
    /// `min_bytes`), so corrupt input cannot ask for a huge allocation.
    fn len(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.u32()?;
        if n.saturating_mul(min_bytes) > self.bytes.len() - self.at {
            return Err(self.fail(format!("length {n} longer than the data")));
        }
        Ok(n)
    }
    fn floats(&mut self) -> Result<Vec<f64>> {
        let n = self.len(8)?;
        (0..n).map(|_| self.f64()).collect()
    }
    pub(crate) fn matrix(&mut self) -> Result<Array2<f64>> {
        let rows = self.u32()?;
        let cols = self.u32()?;
        let n = rows
            .checked_mul(cols)
            .ok_or_else(|| self.fail("matrix too large"))?;
        if n.saturating_mul(8) > self.bytes.len() - self.at {
            return Err(self.fail(format!("{rows} x {cols} matrix longer than the data")));
        }
        let data = (0..n).map(|_| self.f64()).collect::<Result<Vec<_>>>()?;
        Array2::from_shape_vec((rows, cols), data).map_err(|e| self.fail(e))
    }
    pub(crate) fn pattern(&mut self) -> Result<Pattern> {
        let bytes_form = self.flag()?;
        let n = self.u32()?;
        let values = if bytes_form {
            self.take(n)?.to_vec()
        } else {
            let packed = self.take(n.div_ceil(8))?;
            (0..n).map(|i| (packed[i / 8] >> (i % 8)) & 1).collect()
        };
        Pattern::from_values(&values).map_err(|e| self.fail(e))
    }
    fn source(&mut self) -> Result<RowSource> {
        Ok(match self.u8()? {
            0 => RowSource::Domain(self.u32()?),
            1 => RowSource::Unit(self.u32()?),
            2 => RowSource::MaxRival {
                unit: self.u32()?,
                rival: self.u8()?,
            },
            t => return Err(self.fail(format!("row source tag {t}"))),
        })
    }
    fn region(&mut self) -> Result<RegionBuf> {
        let pattern = self.pattern()?;
        let a = self.matrix()?;
        let b = Array1::from(self.floats()?);
        let n = self.len(5)?;
        let sources = (0..n).map(|_| self.source()).collect::<Result<Vec<_>>>()?;
        let center = Array1::from(self.floats()?);
        let radius = self.f64()?;
        let affine = Affine {
            a: self.matrix()?,
            b: Array1::from(self.floats()?),
        };
        let volume = self.opt_f64()?;
        let polygon = if self.flag()? {
            let flat = self.floats()?;
            if flat.len() % 2 != 0 {
                return Err(self.fail("odd polygon coordinates"));
            }
            Some(flat.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
        } else {
            None
        };
        let consistent = b.len() == a.nrows()
            && sources.len() == a.nrows()
            && center.len() == a.ncols()
            && affine.a.ncols() == a.ncols()
            && affine.b.len() == affine.a.nrows();
        if !consistent {
            return Err(self.fail(format!("region {pattern} with inconsistent shapes")));
        }
        Ok(RegionBuf {
            pattern,
            polytope: Polytope { a, b },
            sources,
            center,
            radius,
            affine,
            neighbors: Vec::new(),
            volume,
            polygon,
        })
    }
    pub(crate) fn piece(&mut self) -> Result<Piece> {
        let region = self.region()?;
        let n = self.len(5)?;
        let neighbors = (0..n).map(|_| self.pattern()).collect::<Result<Vec<_>>>()?;
        let border = self.flag()?;
        Ok(Piece {
            region,
            neighbors,
            border,
        })
    }
    pub(crate) fn stats(&mut self) -> Result<EnumStats> {
        Ok(EnumStats {
            regions: self.usize()?,
            rejected_thin: self.usize()?,
            rejected_flat: self.usize()?,
            lps_solved: self.usize()?,
            lps_skipped: self.usize()?,
            elapsed: std::time::Duration::from_nanos(self.u64()?),
            method: match self.u8()? {
                0 => Method::Auto,
                1 => Method::Lp,
                2 => Method::PlaneSplit,
                3 => Method::Skeleton,
                m => return Err(self.fail(format!("method tag {m}"))),
            },
        })
    }
    fn magic(&mut self, magic: &[u8; 4]) -> Result<()> {
        if self.take(4)? != magic {
            return Err(self.fail("not this kind of record"));
        }
        Ok(())
    }
    pub(crate) fn finish(&self) -> Result<()> {
        if self.at != self.bytes.len() {
            return Err(self.fail("trailing bytes"));
        }
        Ok(())
    }
}

impl ShardJob {
    /// The job in the crate's compact binary form (see [`ShardJob::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::tagged(MAGIC_JOB);
        w.u32(self.index);
        w.u32(self.count);
        w.u32(self.axis);
        w.opt_f64(self.lo);
        w.opt_f64(self.hi);
        w.f64(self.tol_radius);
        w.bytes
    }

    /// A job from [`ShardJob::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the byte where the data is truncated or
    /// inconsistent.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::shard::ShardJob;
    /// let job = ShardJob { index: 1, count: 4, axis: 0, lo: Some(-0.5), hi: Some(0.0), tol_radius: 1e-9 };
    /// assert_eq!(ShardJob::from_bytes(&job.to_bytes())?, job);
    /// assert!(ShardJob::from_bytes(&job.to_bytes()[..10]).is_err());
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<ShardJob> {
        let mut r = Reader::new(bytes, "shard job bytes");
        r.magic(MAGIC_JOB)?;
        let job = ShardJob {
            index: r.u32()?,
            count: r.u32()?,
            axis: r.u32()?,
            lo: r.opt_f64()?,
            hi: r.opt_f64()?,
            tol_radius: r.f64()?,
        };
        r.finish()?;
        if job.index >= job.count {
            return Err(Error::invalid(
                "shard job bytes",
                format!("index {} of {} shards", job.index, job.count),
            ));
        }
        Ok(job)
    }
}

impl ShardResult {
    /// The result in the crate's compact binary form (see
    /// [`ShardResult::from_bytes`]): a file per shard that a rerun can skip.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::tagged(MAGIC_RESULT);
        w.f64(self.tol_radius);
        w.u32(self.index);
        w.u32(self.count);
        w.stats(&self.stats);
        w.u32(self.pieces.len());
        for p in &self.pieces {
            w.piece(p);
        }
        w.bytes
    }

    /// A result from [`ShardResult::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the byte where the data is truncated or
    /// inconsistent (a pattern value out of range, shapes that disagree).
    pub fn from_bytes(bytes: &[u8]) -> Result<ShardResult> {
        let mut r = Reader::new(bytes, "shard result bytes");
        r.magic(MAGIC_RESULT)?;
        let tol_radius = r.f64()?;
        let index = r.u32()?;
        let count = r.u32()?;
        let stats = r.stats()?;
        let n = r.len(8)?;
        let pieces = (0..n).map(|_| r.piece()).collect::<Result<Vec<_>>>()?;
        r.finish()?;
        Ok(ShardResult {
            index,
            count,
            tol_radius,
            pieces,
            stats,
        })
    }
}
