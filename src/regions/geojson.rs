//! [`Partition::to_geojson`]: a 2-D partition as a GeoJSON FeatureCollection,
//! written by hand so that it needs no feature and no dependency.

use std::fmt::Write as _;

use super::{Partition, Region};
use crate::geometry::ConvexPolygon;
use crate::lp::LpStats;
use crate::{Error, Result};

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
        if self.domain.dim() != 2 {
            return Err(Error::invalid(
                "GeoJSON export",
                format!("the domain has dimension {}, not 2", self.domain.dim()),
            ));
        }
        let frame = self.frame()?;
        let mut out = String::from(r#"{"type":"FeatureCollection","features":["#);
        for (i, region) in self.regions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let ring = match region.polygon() {
                Some(p) => p.to_vec(),
                None => clip(&frame, region),
            };
            write_feature(&mut out, region, &ring);
        }
        out.push_str("]}");
        Ok(out)
    }

    /// A convex polygon holding the whole domain, which each region's rows cut
    /// down to the region: the domain's bounding box.
    fn frame(&self) -> Result<ConvexPolygon> {
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
}

/// The region's polygon: `frame` clipped by every row of its polytope.
fn clip(frame: &ConvexPolygon, region: &Region) -> Vec<[f64; 2]> {
    let mut poly = frame.clone();
    for (row, &b) in region.polytope.a.outer_iter().zip(&region.polytope.b) {
        match poly.clip([row[0], row[1]], -b) {
            Some(next) => poly = next,
            None => return Vec::new(),
        }
    }
    poly.vertices().to_vec()
}

fn write_feature(out: &mut String, region: &Region, ring: &[[f64; 2]]) {
    out.push_str(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[["#);
    let closed = ring.iter().chain(ring.first());
    for (k, p) in closed.enumerate() {
        if k > 0 {
            out.push(',');
        }
        write_numbers(out, p);
    }
    out.push_str(r#"]]},"properties":{"pattern":""#);
    // Pattern text is `0-9a-z` only: nothing to escape.
    let _ = write!(out, "{}", region.pattern);
    out.push_str(r#"","area":"#);
    let area = region
        .volume
        .unwrap_or_else(|| crate::geometry::signed_area(ring));
    write_number(out, area);
    out.push_str(r#","affine_a":["#);
    for (k, row) in region.affine.a.outer_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        write_numbers(out, row.iter());
    }
    out.push_str(r#"],"affine_b":"#);
    write_numbers(out, region.affine.b.iter());
    out.push_str(r#","neighbors":["#);
    for (k, n) in region.neighbors.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "{n}");
    }
    out.push_str("]}}");
}

/// A JSON array of numbers.
fn write_numbers<'a>(out: &mut String, values: impl IntoIterator<Item = &'a f64>) {
    out.push('[');
    for (k, &v) in values.into_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        write_number(out, v);
    }
    out.push(']');
}

/// A JSON number: Rust's shortest round-trip form (`1.0`, `1e-7`, `-0.25`),
/// which is valid JSON; `null` for NaN and infinities, which JSON lacks.
fn write_number(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v:?}");
    } else {
        out.push_str("null");
    }
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
            write_number(&mut out, v);
            assert_eq!(out, text);
        }
    }
}
