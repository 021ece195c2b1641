//! Deserialised networks (feature `serde`): the stored layers are checked as
//! thoroughly as the builder checks pushed ones, so that a hand-edited or
//! hostile file gives an error, never a network that panics later.

use super::builder::{check_size, conv_output, pool_output};
use super::layers::{Activation, Layer, Shape, NONE};
use super::pattern::MAX_UNIT_VALUE;
use super::Network;
use crate::error::check_finite;
use crate::{Error, Result};

/// The fields of a [`Network`] as stored, before they are checked.
#[derive(serde::Deserialize)]
pub(crate) struct StoredNetwork {
    input: Shape,
    output: Shape,
    layers: Vec<Layer>,
    units: usize,
    #[serde(default)]
    head: Option<super::Head>,
}

impl TryFrom<StoredNetwork> for Network {
    type Error = Error;

    fn try_from(s: StoredNetwork) -> Result<Network> {
        let input = checked_len("input shape", s.input)?;
        let output = checked_len("output shape", s.output)?;
        if input == 0 || output == 0 {
            return Err(Error::invalid("stored network", "empty input or output"));
        }
        let mut walk = Walk { units: 0 };
        let end = walk.layers("", &s.layers, input)?;
        if end != output {
            return Err(Error::shape("stored network output", output, end));
        }
        if walk.units != s.units {
            return Err(Error::shape("stored network unit count", walk.units, s.units));
        }
        let network = Network::from_parts(s.input, s.output, s.layers, s.units);
        Ok(match s.head {
            Some(head) => network.with_dropped_head(head),
            None => network,
        })
    }
}

/// The number of scalars of a shape, within the builder's limits.
fn checked_len(what: &str, shape: Shape) -> Result<usize> {
    check_size(what, shape).map(|()| shape.len())
}

/// Replays the layers, tracking the data width and the pattern offset.
struct Walk {
    units: usize,
}

impl Walk {
    /// Checks `layers` on data of width `len`; returns the width after them.
    fn layers(&mut self, path: &str, layers: &[Layer], mut len: usize) -> Result<usize> {
        for (i, layer) in layers.iter().enumerate() {
            let here = format!("stored layer {path}{i}");
            len = self.layer(&here, &format!("{path}{i}."), layer, len)?;
        }
        Ok(len)
    }

    /// Checks one layer on data of width `len` (`inner` prefixes the names
    /// of a residual body's layers); returns the width after it.
    fn layer(&mut self, here: &str, inner: &str, layer: &Layer, len: usize) -> Result<usize> {
        match layer {
            Layer::Dense { w, b } => {
                if w.ncols() != len || b.len() != w.nrows() {
                    return Err(Error::shape(
                        here,
                        format!("weight (_, {len}) and a bias per row"),
                        format!("weight {:?}, bias {}", w.dim(), b.len()),
                    ));
                }
                check_finite(&format!("{here} weight"), w.iter())?;
                check_finite(&format!("{here} bias"), b.iter())?;
                Ok(w.nrows())
            }
            Layer::Conv { conv, input, output } => {
                same_len(here, *input, len)?;
                checked_len(here, *output)?;
                let computed = conv_output(here, conv, *input)?;
                if computed != *output {
                    return Err(Error::shape(format!("{here} output"), computed, *output));
                }
                Ok(output.len())
            }
            Layer::AvgPool { pool, input, output } => {
                same_len(here, *input, len)?;
                checked_len(here, *output)?;
                let computed = pool_output(here, pool, *input)?;
                if computed != *output {
                    return Err(Error::shape(format!("{here} output"), computed, *output));
                }
                Ok(output.len())
            }
            Layer::ChannelAffine {
                scale,
                shift,
                spatial,
            } => {
                let covered = scale.len().checked_mul(*spatial);
                if shift.len() != scale.len() || covered != Some(len) {
                    return Err(Error::shape(
                        here,
                        format!("{len} values in channels of {spatial}"),
                        format!("{} scales, {} shifts", scale.len(), shift.len()),
                    ));
                }
                check_finite(&format!("{here} scale"), scale.iter())?;
                check_finite(&format!("{here} shift"), shift.iter())?;
                Ok(len)
            }
            Layer::TwoPiece { act, len: n, offset } => {
                if let Activation::LeakyRelu(s) = act {
                    check_finite(&format!("{here} slope"), [*s].iter())?;
                }
                if *n != len {
                    return Err(Error::shape(here, len, n));
                }
                self.claim(here, *offset, *n)?;
                Ok(len)
            }
            Layer::Max {
                width,
                cand,
                input_len,
                offset,
                ..
            } => {
                check_windows(here, *width, cand, *input_len)?;
                if *input_len != len {
                    return Err(Error::shape(here, len, input_len));
                }
                let units = cand.len() / width;
                self.claim(here, *offset, units)?;
                Ok(units)
            }
            Layer::Residual { body, skip } => {
                let end = self.layers(inner, body, len)?;
                let skipped = match skip.as_deref() {
                    None => len,
                    Some(l @ (Layer::Dense { .. } | Layer::Conv { .. })) => {
                        let mut no_units = Walk { units: 0 };
                        no_units.layer(&format!("{here} skip"), inner, l, len)?
                    }
                    Some(_) => {
                        return Err(Error::invalid(
                            here,
                            "a skip path must be a dense layer or a convolution",
                        ))
                    }
                };
                if skipped != end {
                    return Err(Error::shape(format!("{here} paths"), skipped, end));
                }
                Ok(end)
            }
        }
    }

    /// Checks that a nonlinearity's units start where the previous ones end.
    fn claim(&mut self, here: &str, offset: usize, count: usize) -> Result<()> {
        if offset != self.units {
            return Err(Error::shape(format!("{here} unit offset"), self.units, offset));
        }
        self.units = self
            .units
            .checked_add(count)
            .ok_or_else(|| Error::invalid(here, "too many units"))?;
        Ok(())
    }
}

fn same_len(here: &str, shape: Shape, len: usize) -> Result<()> {
    match checked_len(here, shape)? {
        n if n == len => Ok(()),
        n => Err(Error::shape(format!("{here} input"), len, n)),
    }
}

/// Max windows: `width` in `1..=36`, whole windows, taps inside the input and
/// at least one real tap per window.
fn check_windows(here: &str, width: usize, cand: &[u32], input_len: usize) -> Result<()> {
    if width == 0 || width > MAX_UNIT_VALUE as usize + 1 || cand.len() % width != 0 {
        return Err(Error::invalid(
            here,
            format!("{} candidates in windows of {width}", cand.len()),
        ));
    }
    if let Some(t) = cand.iter().find(|&&t| t != NONE && t as usize >= input_len) {
        return Err(Error::invalid(
            here,
            format!("tap {t} outside {input_len} inputs"),
        ));
    }
    if cand.chunks_exact(width).any(|w| w.iter().all(|&t| t == NONE)) {
        return Err(Error::invalid(here, "a window holds only padding"));
    }
    Ok(())
}
