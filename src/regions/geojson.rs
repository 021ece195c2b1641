//! [`Partition::to_geojson`]: a 2-D partition as a GeoJSON FeatureCollection,
//! written by hand so that it needs no feature and no dependency.

use std::fmt::Write as _;

use super::{Partition, Region};
use crate::geometry::ConvexPolygon;
use crate::lp::LpStats;
use crate::{Error, Result};

/// Settings of [`Partition::to_geojson_with`]: how precise the numbers are
/// and which per-region properties are written.
#[derive(Clone, Debug, PartialEq)]
pub struct GeoJsonOptions {
    /// Digits after the decimal point of every number (trailing zeros
    /// dropped); `None` writes Rust's shortest round-trip form, which reads
    /// back bit for bit. Six digits are a micro-unit: enough for pictures.
    pub precision: Option<usize>,
    /// Whether each feature lists its `pattern` text.
    pub pattern: bool,
    /// Whether each feature lists its `area`.
    pub area: bool,
    /// Whether each feature lists its affine map (`affine_a`, `affine_b`),
    /// the largest property for networks with many outputs.
    pub affine: bool,
    /// Whether each feature lists its `neighbors`.
    pub neighbors: bool,
    #[doc(hidden)]
    pub _private: crate::Private,
}

impl Default for GeoJsonOptions {
    fn default() -> Self {
        GeoJsonOptions {
            precision: None,
            pattern: true,
            area: true,
            affine: true,
            neighbors: true,
            _private: crate::Private::default(),
        }
    }
}

impl Partition {
    /// The regions of a 2-D partition as a GeoJSON (RFC 7946) FeatureCollection.
    ///
    /// Each region is one `Polygon` feature whose ring lists the region's
    /// vertices counter-clockwise in domain coordinates (`(s, t)` for slices)
    /// and closes by repeating the first vertex. Its `properties` are
    /// `pattern` (the canonical text), `area`, `affine_a` (rows of the
    /// Jacobian in domain coordinates, out x 2), `affine_b` and `neighbors`
    /// (feature indices). Non-finite numbers, which enumerated regions do not
    /// have, would be written as `null`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the domain is not 2-D; LP errors when the
    /// bounding box of a 2-D polytope domain must be computed.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// let net = Network::builder(2)
    ///     .dense(array![[1.0, 0.0]], array![0.0])?
    ///     .relu()
    ///     .dense(array![[1.0]], array![0.0])?
    ///     .build()?;
    /// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
    /// let text = partition.to_geojson()?;
    /// assert!(text.starts_with(r#"{"type":"FeatureCollection","features":[{"type":"Feature""#));
    /// assert_eq!(text.matches(r#""type":"Polygon""#).count(), 2);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn to_geojson(&self) -> Result<String> {
        self.to_geojson_with(&GeoJsonOptions::default())
    }

    /// The regions of a 2-D partition as a GeoJSON FeatureCollection, with
    /// numbers rounded to `opts.precision` digits and only the properties
    /// `opts` asks for (see [`Partition::to_geojson`] for their meaning).
    ///
    /// # Errors
    ///
    /// As [`Partition::to_geojson`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions, GeoJsonOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// let net = Network::builder(2).dense(array![[1.0, 0.0]], array![0.0])?.relu().build()?;
    /// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
    /// let opts = GeoJsonOptions { precision: Some(2), affine: false, ..Default::default() };
    /// let text = partition.to_geojson_with(&opts)?;
    /// assert!(text.contains("[1,1]") && !text.contains("affine"));
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn to_geojson_with(&self, opts: &GeoJsonOptions) -> Result<String> {
        self.check_planar("GeoJSON export")?;
        let frame = self.frame()?;
        let mut out = String::from(r#"{"type":"FeatureCollection","features":["#);
        for (i, region) in self.regions().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let ring = match region.polygon() {
                Some(p) => p.to_vec(),
                None => Partition::clip_to(&frame, region),
            };
            Feature { out: &mut out, opts }.write(region, &ring);
        }
        out.push_str("]}");
        Ok(out)
    }

    /// The regions of a 2-D partition as an indexed mesh in JSON, which writes
    /// each vertex once: GeoJSON repeats a vertex in every region around it
    /// (about three) and closes each ring by repeating its first vertex, so
    /// the mesh holds about a third of GeoJSON's coordinates.
    ///
    /// The document is
    /// `{"type":"PartitionMesh","vertices":[[x,y],...],"regions":[{"ring":[i,j,...],...},...]}`:
    /// `vertices` lists the distinct vertices (domain coordinates, `(s, t)`
    /// for slices), in order of first use; each region's `ring` lists its
    /// vertices' indices counter-clockwise, not closed; the other members of a
    /// region are the properties of [`Partition::to_geojson`] that `opts`
    /// asks for. Vertices are the same when their written text is (so with
    /// `opts.precision`, vertices that round to the same numbers merge);
    /// without it, the splitter's shared vertices are bit-identical in both
    /// regions and merge.
    ///
    /// # Errors
    ///
    /// As [`Partition::to_geojson`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions, GeoJsonOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// // relu(x) on [-1, 1]^2: two rectangles sharing the edge x = 0.
    /// let net = Network::builder(2).dense(array![[1.0, 0.0]], array![0.0])?.relu().build()?;
    /// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
    /// let opts = GeoJsonOptions { precision: Some(3), affine: false, ..Default::default() };
    /// let text = partition.to_mesh_json_with(&opts)?;
    /// // Six distinct vertices: the 8 corners of two rectangles, 2 shared.
    /// let vertices = text.split(r#""regions""#).next().unwrap();
    /// assert_eq!(vertices.matches('[').count(), 1 + 6);
    /// assert!(text.contains(r#""ring":[0,1,2,3],"pattern""#));
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn to_mesh_json_with(&self, opts: &GeoJsonOptions) -> Result<String> {
        self.check_planar("mesh JSON export")?;
        let frame = self.frame()?;
        let rings: Vec<Vec<[f64; 2]>> = self
            .regions()
            .iter()
            .map(|region| match region.polygon() {
                Some(p) => p.to_vec(),
                None => Partition::clip_to(&frame, region),
            })
            .collect();
        let mut vertices = String::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut regions = String::new();
        for (i, (region, ring)) in self.regions().iter().zip(&rings).enumerate() {
            regions.push_str(if i > 0 { r#",{"ring":["# } else { r#"{"ring":["# });
            for (k, p) in ring.iter().enumerate() {
                let mut text = String::new();
                Feature { out: &mut text, opts }.numbers(p);
                let next = index.len();
                let id = *index.entry(text).or_insert_with_key(|text| {
                    vertices.push_str(if next > 0 { "," } else { "" });
                    vertices.push_str(text);
                    next
                });
                let _ = write!(regions, "{}{id}", if k > 0 { "," } else { "" });
            }
            regions.push(']');
            Feature {
                out: &mut regions,
                opts,
            }
            .properties(region, ring, false);
            regions.push('}');
        }
        Ok(format!(
            r#"{{"type":"PartitionMesh","vertices":[{vertices}],"regions":[{regions}]}}"#
        ))
    }

    /// [`Error::Invalid`] naming `what` unless the domain is 2-D.
    pub(crate) fn check_planar(&self, what: &str) -> Result<()> {
        if self.domain.dim() != 2 {
            return Err(Error::invalid(
                what,
                format!("the domain has dimension {}, not 2", self.domain.dim()),
            ));
        }
        Ok(())
    }

    /// A convex polygon holding the whole domain, which each region's rows cut
    /// down to the region: the domain's bounding box.
    pub(crate) fn frame(&self) -> Result<ConvexPolygon> {
        let (lo, hi) = match self.domain.bounding_box() {
            Some(b) => b,
            None => super::setup::lp_bounding_box(&self.domain.constraints()?, &mut LpStats::default())?,
        };
        ConvexPolygon::from_vertices(vec![
            [lo[0], lo[1]],
            [hi[0], lo[1]],
            [hi[0], hi[1]],
            [lo[0], hi[1]],
        ])
    }

    /// The region's polygon: `frame` clipped by every row of its polytope.
    pub(crate) fn clip_to(frame: &ConvexPolygon, region: Region<'_>) -> Vec<[f64; 2]> {
        let mut poly = frame.clone();
        for (row, &b) in region.polytope.a.outer_iter().zip(&region.polytope.b) {
            match poly.clip([row[0], row[1]], -b) {
                Some(next) => poly = next,
                None => return Vec::new(),
            }
        }
        poly.vertices().to_vec()
    }
}

/// A feature being written: the output and the settings.
struct Feature<'a> {
    out: &'a mut String,
    opts: &'a GeoJsonOptions,
}

impl Feature<'_> {
    fn write(&mut self, region: Region<'_>, ring: &[[f64; 2]]) {
        self.out
            .push_str(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[["#);
        let closed = ring.iter().chain(ring.first());
        for (k, p) in closed.enumerate() {
            if k > 0 {
                self.out.push(',');
            }
            self.numbers(p);
        }
        self.out.push_str(r#"]]},"properties":{"#);
        self.properties(region, ring, true);
        self.out.push_str("}}");
    }

    /// The properties `opts` asks for, as `"key":value` pairs separated by
    /// commas (`first`: no comma before the first).
    fn properties(&mut self, region: Region<'_>, ring: &[[f64; 2]], mut first: bool) {
        let mut key = |out: &mut String, name: &str| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            let _ = write!(out, r#""{name}":"#);
        };
        if self.opts.pattern {
            key(self.out, "pattern");
            // Pattern text is `0-9a-z` only: nothing to escape.
            let _ = write!(self.out, r#""{}""#, region.pattern);
        }
        if self.opts.area {
            key(self.out, "area");
            let area = region
                .volume
                .unwrap_or_else(|| crate::geometry::signed_area(ring));
            self.number(area);
        }
        if self.opts.affine {
            key(self.out, "affine_a");
            self.out.push('[');
            for (k, row) in region.affine.a.outer_iter().enumerate() {
                if k > 0 {
                    self.out.push(',');
                }
                self.numbers(row.iter());
            }
            self.out.push(']');
            key(self.out, "affine_b");
            self.numbers(region.affine.b.iter());
        }
        if self.opts.neighbors {
            key(self.out, "neighbors");
            self.out.push('[');
            for (k, n) in region.neighbors.iter().enumerate() {
                if k > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{n}");
            }
            self.out.push(']');
        }
    }

    /// A JSON array of numbers.
    fn numbers<'a>(&mut self, values: impl IntoIterator<Item = &'a f64>) {
        self.out.push('[');
        for (k, &v) in values.into_iter().enumerate() {
            if k > 0 {
                self.out.push(',');
            }
            self.number(v);
        }
        self.out.push(']');
    }

    fn number(&mut self, v: f64) {
        write_number(self.out, v, self.opts.precision);
    }
}

/// A JSON number: Rust's shortest round-trip form (`1.0`, `1e-7`, `-0.25`),
/// which is valid JSON, or `digits` decimals without trailing zeros (`0.5`,
/// `2`, never `-0`); `null` for NaN and infinities, which JSON lacks.
fn write_number(out: &mut String, v: f64, digits: Option<usize>) {
    if !v.is_finite() {
        out.push_str("null");
        return;
    }
    let Some(digits) = digits else {
        let _ = write!(out, "{v:?}");
        return;
    };
    let text = format!("{v:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    out.push_str(if text == "-0" { "0" } else { text });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_json_numbers() {
        for (v, text) in [
            (1.0, "1.0"),
            (-0.25, "-0.25"),
            (1e-7, "1e-7"),
            (1e21, "1e21"),
            (f64::NAN, "null"),
            (f64::NEG_INFINITY, "null"),
        ] {
            let mut out = String::new();
            write_number(&mut out, v, None);
            assert_eq!(out, text);
        }
    }

    #[test]
    fn rounded_numbers_drop_trailing_zeros() {
        for (v, digits, text) in [
            (0.5, 3, "0.5"),
            (2.0, 3, "2"),
            (-1e-9, 6, "0"),
            (1.23456789, 4, "1.2346"),
            (-12.75, 0, "-13"),
            (f64::NAN, 2, "null"),
        ] {
            let mut out = String::new();
            write_number(&mut out, v, Some(digits));
            assert_eq!(out, text, "{v} to {digits} digits");
        }
    }
}
