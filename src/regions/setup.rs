//! The enumeration set-up shared by both methods: what a run knows about its
//! domain, computed once per run.

use std::sync::OnceLock;

use ndarray::{Array1, Array2};

use super::exact::ExactNet;

use crate::lp::{LpOutcome, LpProblem, LpStats};
use crate::tol::TOL_RADIUS_REL;
use crate::{Domain, Error, Network, Polytope, Result};

/// The domain's constraints and its embedding into the input space: what
/// every region's H-representation is built from.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    /// The domain as `{y : a y <= b}` in its own coordinates.
    pub constraints: Polytope,
    /// The embedding's basis (domain dimension x input dimension).
    pub basis: Array2<f64>,
    /// The input-space point of the domain's origin.
    pub origin: Array1<f64>,
}

impl Frame {
    /// The frame of a domain.
    ///
    /// # Errors
    ///
    /// As [`Domain::constraints`].
    pub(crate) fn of(domain: &Domain) -> Result<Frame> {
        let constraints = domain.constraints()?;
        let (basis, origin) = domain.embedding();
        Ok(Frame {
            constraints,
            basis,
            origin,
        })
    }
}

/// What a run knows about the domain.
pub(crate) struct Setup {
    /// The constraints and the embedding.
    pub frame: Frame,
    /// The bounding box in domain coordinates (by LPs for general polytopes).
    pub bbox: Option<(Array1<f64>, Array1<f64>)>,
    /// Cells whose Chebyshev radius is at most this are thin.
    pub tol_radius: f64,
    /// A polygon holding the domain, for 2-D domains (the window of a slice).
    pub window: Option<Vec<[f64; 2]>>,
    /// The network and domain in exact arithmetic, converted on first use
    /// (by the LP walk, to settle thin and flat cells).
    exact: OnceLock<ExactNet>,
}

impl Setup {
    /// The set-up of a run on `domain`, with the given thin-cell radius
    /// (`None`: [`TOL_RADIUS_REL`] times the domain's diameter); the LPs of
    /// a polytope's bounding box are counted in `lp`.
    pub(crate) fn new(domain: &Domain, tol_radius: Option<f64>, lp: &mut LpStats) -> Result<Setup> {
        let frame = Frame::of(domain)?;
        let bbox = match domain.bounding_box() {
            Some(b) => Some(b),
            None => Some(lp_bounding_box(&frame.constraints, lp)?),
        };
        let tol_radius = tol_radius.unwrap_or(TOL_RADIUS_REL * diameter(bbox.as_ref()));
        let window = match domain.window_polygon()? {
            Some(w) => Some(w),
            None if domain.dim() == 2 => bbox.as_ref().map(|(lo, hi)| rectangle(lo, hi)),
            None => None,
        };
        Ok(Setup {
            frame,
            bbox,
            tol_radius,
            window,
            exact: OnceLock::new(),
        })
    }

    /// The network and domain in exact arithmetic, converted once per run
    /// (two threads asking first may both convert; one result is kept).
    ///
    /// # Errors
    ///
    /// As [`ExactNet::new`].
    pub(crate) fn exact(&self, net: &Network, domain: &Domain) -> Result<&ExactNet> {
        if let Some(found) = self.exact.get() {
            return Ok(found);
        }
        let built = ExactNet::new(net, domain)?;
        Ok(self.exact.get_or_init(|| built))
    }

    /// The diameter of the domain's bounding box (1 when unknown).
    pub(crate) fn diameter(&self) -> f64 {
        diameter(self.bbox.as_ref())
    }
}

/// The diameter of a box (1 without one).
fn diameter(bbox: Option<&(Array1<f64>, Array1<f64>)>) -> f64 {
    bbox.map_or(1.0, |(lo, hi)| (hi - lo).mapv(|v| v * v).sum().sqrt())
}

/// The counter-clockwise corners of a 2-D box: for 2-D boxes and polytopes,
/// the polygon that each region's rows (the domain's among them) cut down to
/// the region, which gives it a polygon and an area.
fn rectangle(lo: &Array1<f64>, hi: &Array1<f64>) -> Vec<[f64; 2]> {
    vec![[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]
}

/// The box of a bounded polytope, by two LPs per coordinate.
pub(crate) fn lp_bounding_box(p: &Polytope, lp: &mut LpStats) -> Result<(Array1<f64>, Array1<f64>)> {
    let d = p.dim();
    let mut lo = Array1::zeros(d);
    let mut hi = Array1::zeros(d);
    for k in 0..d {
        for (sign, slot) in [(1.0, &mut hi), (-1.0, &mut lo)] {
            let mut c = Array1::zeros(d);
            c[k] = sign;
            lp.lps_solved += 1;
            match LpProblem::new(c.view(), p.a.view(), p.b.view()).solve("domain bounding box")? {
                LpOutcome::Optimal { value, .. } => slot[k] = sign * value,
                LpOutcome::Unbounded => return Err(Error::invalid("polytope domain", "unbounded")),
                LpOutcome::Infeasible => return Err(Error::invalid("polytope domain", "empty")),
            }
        }
    }
    Ok((lo, hi))
}
