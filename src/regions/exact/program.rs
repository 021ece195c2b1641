//! The network as exact rational steps, and what a choice of pieces means
//! for one unit: the sign conditions it adds and the values it passes on.

use ndarray::Array2;
use num_traits::{Signed, Zero};

use super::simplex::Q;
use crate::network::eval::{affine_blocks, Blocks};
use crate::network::{AffineStep, Nonlinearity, Step, PADDING};
use crate::{Error, Network, Result};

/// An affine function of the domain coordinates: the coefficients, then the
/// constant. As a constraint it means `f(y) <= 0` (`< 0` in the interior).
pub(crate) type Aff = Vec<Q>;

/// An exact affine map `w x + b` (`w` out x in).
#[derive(Clone)]
pub(crate) struct ExactAffine {
    w: Vec<Vec<Q>>,
    b: Vec<Q>,
}

/// One step of the network in exact arithmetic.
pub(crate) enum ExactStep {
    Affine(ExactAffine),
    /// Two-piece units `offset..offset + len` with their slopes.
    TwoPiece {
        slopes: [Q; 2],
        offset: usize,
        len: usize,
    },
    /// Max units from `offset`, `width` candidates each ([`PADDING`] pads).
    Max {
        width: usize,
        cand: Vec<u32>,
        offset: usize,
    },
    PushSkip(Option<ExactAffine>),
    AddSkip,
}

/// An `f64` as the exact rational it is.
pub(crate) fn rational(v: f64, what: &str) -> Result<Q> {
    Q::from_float(v).ok_or_else(|| Error::invalid(what, format!("{v} is not finite")))
}

/// The network's steps with exact matrices: each affine layer's matrix is
/// its `f64` response to the unit vectors and its bias its response to zero,
/// which are exactly its weights (every sum has one non-zero term).
pub(crate) fn exact_steps(net: &Network) -> Result<Vec<ExactStep>> {
    let mut width = net.input_dim();
    let mut out = Vec::new();
    for step in net.program().steps() {
        out.push(match step {
            Step::Affine(affine) => {
                let map = exact_affine(affine, width)?;
                width = map.b.len();
                ExactStep::Affine(map)
            }
            Step::Nonlinear(Nonlinearity::TwoPiece(units)) => {
                let [s0, s1] = units.slopes();
                ExactStep::TwoPiece {
                    slopes: [
                        rational(s0, "activation slope")?,
                        rational(s1, "activation slope")?,
                    ],
                    offset: units.offset(),
                    len: units.len(),
                }
            }
            Step::Nonlinear(Nonlinearity::Max(units)) => {
                width = units.len();
                ExactStep::Max {
                    width: units.width(),
                    cand: units.candidates().to_vec(),
                    offset: units.offset(),
                }
            }
            Step::Fork { skip } => {
                ExactStep::PushSkip(skip.as_ref().map(|p| exact_affine(p, width)).transpose()?)
            }
            Step::Join => ExactStep::AddSkip,
        });
    }
    Ok(out)
}

fn exact_affine(step: &AffineStep, inputs: usize) -> Result<ExactAffine> {
    let mut probe = Array2::zeros((inputs + 1, inputs));
    for i in 0..inputs {
        probe[[i, i]] = 1.0;
    }
    let blocks = Blocks {
        block: inputs + 1,
        offset_row: inputs,
    };
    let image = affine_blocks(step, probe.view(), blocks);
    let outputs = image.ncols();
    let w = (0..outputs)
        .map(|k| (0..inputs).map(|i| rational(image[[i, k]], "weight")).collect())
        .collect::<Result<_>>()?;
    let b = (0..outputs)
        .map(|k| rational(image[[inputs, k]], "bias"))
        .collect::<Result<_>>()?;
    Ok(ExactAffine { w, b })
}

impl ExactAffine {
    /// The map applied to affine functions.
    pub(crate) fn apply(&self, values: &[Aff]) -> Vec<Aff> {
        let len = values.first().map_or(0, Vec::len);
        self.w
            .iter()
            .zip(&self.b)
            .map(|(row, bias)| {
                let mut f = vec![Q::zero(); len];
                for (w, v) in row.iter().zip(values).filter(|(w, _)| !w.is_zero()) {
                    f.iter_mut().zip(v).for_each(|(acc, x)| *acc += w * x);
                }
                if let Some(c) = f.last_mut() {
                    *c += bias;
                }
                f
            })
            .collect()
    }
}

/// True when `f` has no linear part (its value is its constant everywhere).
pub(crate) fn is_constant(f: &Aff) -> bool {
    f[..f.len() - 1].iter().all(Zero::is_zero)
}

fn negated(f: &Aff) -> Aff {
    f.iter().map(|v| -v).collect()
}

fn difference(f: &Aff, g: &Aff) -> Aff {
    f.iter().zip(g).map(|(a, b)| a - b).collect()
}

/// The sign conditions of unit `j` of a nonlinearity taking piece `choice`
/// (`values`: the step's inputs), as constraints `f <= 0`: `None` when a
/// constant condition fails (the choice is impossible everywhere), else the
/// non-constant ones. A two-piece unit is on piece 1 where `z > 0`; a max
/// unit chooses the first of its largest candidates.
pub(crate) fn conditions(step: &ExactStep, values: &[Aff], j: usize, choice: u8) -> Option<Vec<Aff>> {
    match step {
        ExactStep::TwoPiece { .. } => {
            let z = &values[j];
            let row = if choice == 1 { negated(z) } else { z.clone() };
            if is_constant(&row) {
                let c = &row[row.len() - 1];
                let holds = if choice == 1 {
                    c.is_negative()
                } else {
                    !c.is_positive()
                };
                return holds.then(Vec::new);
            }
            Some(vec![row])
        }
        ExactStep::Max { width, cand, .. } => {
            let taps = &cand[j * width..(j + 1) * width];
            let k = choice as usize;
            let chosen = &values[*taps.get(k).filter(|&&t| t != PADDING)? as usize];
            let mut rows = Vec::new();
            for (r, &t) in taps.iter().enumerate().filter(|&(r, &t)| t != PADDING && r != k) {
                // Rival r must stay below (strictly when it comes first).
                let row = difference(&values[t as usize], chosen);
                if !is_constant(&row) {
                    rows.push(row);
                    continue;
                }
                let c = &row[row.len() - 1];
                let holds = if r < k { c.is_negative() } else { !c.is_positive() };
                if !holds {
                    return None;
                }
            }
            Some(rows)
        }
        _ => Some(Vec::new()),
    }
}

/// The number of choices of a unit of a nonlinearity (window positions of a
/// max unit, padding included: [`conditions`] rules padding out).
pub(crate) fn choices(step: &ExactStep) -> u8 {
    match step {
        ExactStep::Max { width, .. } => *width as u8,
        _ => 2,
    }
}

/// The outputs of a nonlinearity given every unit's piece.
pub(crate) fn activate(step: &ExactStep, values: Vec<Aff>, choices: &[u8]) -> Vec<Aff> {
    match step {
        ExactStep::TwoPiece { slopes, .. } => values
            .into_iter()
            .zip(choices)
            .map(|(f, &c)| f.iter().map(|v| v * &slopes[c as usize]).collect())
            .collect(),
        ExactStep::Max { width, cand, .. } => choices
            .iter()
            .enumerate()
            .map(|(j, &c)| values[cand[j * width + c as usize] as usize].clone())
            .collect(),
        _ => values,
    }
}
