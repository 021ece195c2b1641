//! Deserialised networks (feature `serde`): the stored layers are checked as
//! thoroughly as the builder checks pushed ones, so that a hand-edited or
//! hostile file gives an error, never a network that panics later.

use ndarray::{Array1, Array2};

use super::builder::{check_size, conv_output, pool_output};
use super::layers::{Activation, Conv2d, Pool2d, Shape};
use super::pattern::MAX_UNIT_VALUE;
use super::program::{
    AffineStep, AvgPooling, ChannelAffine, Convolution, Dense, MaxUnits, Nonlinearity, Program, Step,
    TwoPiece, PADDING,
};
use super::Network;
use crate::error::check_finite;
use crate::error::{Error, Result};

/// The fields of a [`Network`] as stored: its layers as a tree (a residual
/// block holds its body), the file format since the first release.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredNetwork {
    input: Shape,
    output: Shape,
    layers: Vec<Layer>,
    units: usize,
    /// The output head an importer dropped, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head: Option<super::Head>,
}

/// A stored layer, with every shape resolved.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum Layer {
    /// `w x + b`, `w` (out, in).
    Dense { w: Array2<f64>, b: Array1<f64> },
    /// Convolution with its input and output shapes.
    Conv {
        conv: Conv2d,
        input: Shape,
        output: Shape,
    },
    /// Average pooling.
    AvgPool {
        pool: Pool2d,
        input: Shape,
        output: Shape,
    },
    /// Per-channel `scale x + shift`.
    ChannelAffine {
        scale: Array1<f64>,
        shift: Array1<f64>,
        spatial: usize,
    },
    /// A two-piece activation on every unit; pattern units start at `offset`.
    TwoPiece {
        act: Activation,
        len: usize,
        offset: usize,
    },
    /// Max units: unit `j` takes the max over `cand[j * width .. (j + 1) * width]`.
    Max {
        width: usize,
        cand: Vec<u32>,
        input_len: usize,
        offset: usize,
        pool: bool,
    },
    /// `skip(x) + body(x)`.
    Residual {
        body: Vec<Layer>,
        skip: Option<Box<Layer>>,
    },
}

impl From<Network> for StoredNetwork {
    fn from(net: Network) -> StoredNetwork {
        let (program, head) = (net.program, net.head);
        let (input, output, units) = (
            program.input_shape(),
            program.output_shape(),
            program.unit_count(),
        );
        StoredNetwork {
            input,
            output,
            layers: tree(program.into_steps()),
            units,
            head,
        }
    }
}

/// The layer tree of a program: each fork opens a residual block that its
/// join closes.
fn tree(steps: Vec<Step>) -> Vec<Layer> {
    // The layers of every open block, outermost first, with its skip path.
    let mut open: Vec<(Vec<Layer>, Option<Box<Layer>>)> = vec![(Vec::new(), None)];
    for step in steps {
        let layer = match step {
            Step::Affine(a) => affine_layer(a),
            Step::Nonlinear(Nonlinearity::TwoPiece(TwoPiece { act, len, offset })) => {
                Layer::TwoPiece { act, len, offset }
            }
            Step::Nonlinear(Nonlinearity::Max(MaxUnits {
                width,
                cand,
                input_len,
                offset,
                pool,
            })) => Layer::Max {
                width,
                cand,
                input_len,
                offset,
                pool,
            },
            Step::Fork { skip } => {
                open.push((Vec::new(), skip.map(|s| Box::new(affine_layer(s)))));
                continue;
            }
            Step::Join => {
                let (body, skip) = open.pop().expect("a program's joins close its forks");
                Layer::Residual { body, skip }
            }
        };
        open.last_mut().expect("the top level stays open").0.push(layer);
    }
    open.pop().map(|(layers, _)| layers).unwrap_or_default()
}

fn affine_layer(step: AffineStep) -> Layer {
    match step {
        AffineStep::Dense(Dense { w, b }) => Layer::Dense { w, b },
        AffineStep::Conv(Convolution { conv, input, output }) => Layer::Conv { conv, input, output },
        AffineStep::AvgPool(AvgPooling { pool, input, output }) => Layer::AvgPool { pool, input, output },
        AffineStep::ChannelAffine(ChannelAffine {
            scale,
            shift,
            spatial,
        }) => Layer::ChannelAffine {
            scale,
            shift,
            spatial,
        },
    }
}

/// The steps of a checked layer tree, appended to `out`.
///
/// # Errors
///
/// [`Error::Invalid`] for a skip path that is not a dense layer or a
/// convolution.
fn flatten(layers: Vec<Layer>, out: &mut Vec<Step>) -> Result<()> {
    for layer in layers {
        let step = match layer {
            Layer::Dense { w, b } => Step::Affine(AffineStep::Dense(Dense { w, b })),
            Layer::Conv { conv, input, output } => {
                Step::Affine(AffineStep::Conv(Convolution { conv, input, output }))
            }
            Layer::AvgPool { pool, input, output } => {
                Step::Affine(AffineStep::AvgPool(AvgPooling { pool, input, output }))
            }
            Layer::ChannelAffine {
                scale,
                shift,
                spatial,
            } => Step::Affine(AffineStep::ChannelAffine(ChannelAffine {
                scale,
                shift,
                spatial,
            })),
            Layer::TwoPiece { act, len, offset } => {
                Step::Nonlinear(Nonlinearity::TwoPiece(TwoPiece { act, len, offset }))
            }
            Layer::Max {
                width,
                cand,
                input_len,
                offset,
                pool,
            } => Step::Nonlinear(Nonlinearity::Max(MaxUnits {
                width,
                cand,
                input_len,
                offset,
                pool,
            })),
            Layer::Residual { body, skip } => {
                let skip = skip.map(|s| skip_step(*s)).transpose()?;
                out.push(Step::Fork { skip });
                flatten(body, out)?;
                Step::Join
            }
        };
        out.push(step);
    }
    Ok(())
}

/// The projection of a skip path.
///
/// # Errors
///
/// [`Error::Invalid`] for a layer other than a dense layer or a convolution.
fn skip_step(layer: Layer) -> Result<AffineStep> {
    match layer {
        Layer::Dense { w, b } => Ok(AffineStep::Dense(Dense { w, b })),
        Layer::Conv { conv, input, output } => Ok(AffineStep::Conv(Convolution { conv, input, output })),
        _ => Err(Error::invalid(
            "stored residual block",
            "a skip path must be a dense layer or a convolution",
        )),
    }
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
        let mut steps = Vec::new();
        flatten(s.layers, &mut steps)?;
        let network = Network::from_program(Program::new(s.input, s.output, steps));
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
    if let Some(t) = cand.iter().find(|&&t| t != PADDING && t as usize >= input_len) {
        return Err(Error::invalid(
            here,
            format!("tap {t} outside {input_len} inputs"),
        ));
    }
    if cand.chunks_exact(width).any(|w| w.iter().all(|&t| t == PADDING)) {
        return Err(Error::invalid(here, "a window holds only padding"));
    }
    Ok(())
}
