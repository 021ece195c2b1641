//! Passes through a network on the GPU: the network's steps uploaded once
//! per call, forward passes that show each nonlinearity's pre-activations
//! and choices to an observer, and reverse passes for Jacobians.

use cudarc::driver::CudaSlice;

use super::device::{launch, Device, RowMajorGemm};
use super::error::CudaError;
use super::kernels::Kernel;
use super::plan::Step;

/// A network's steps with their parameters on the device.
pub(crate) struct DeviceNet {
    steps: Vec<DeviceStep>,
    input: usize,
    units: usize,
}

enum DeviceStep {
    Dense {
        w: CudaSlice<f64>,
        b: CudaSlice<f64>,
        out: usize,
        inp: usize,
    },
    TwoPiece {
        slopes: [f64; 2],
        len: usize,
        offset: usize,
    },
    Max {
        cand: CudaSlice<u32>,
        width: usize,
        units: usize,
        input_len: usize,
        offset: usize,
    },
}

/// What a forward pass shows its observer, once per nonlinearity (indexed
/// in pattern order).
pub(crate) enum Seen<'a> {
    /// The nonlinearity's input, rows x `cols`, before it is applied.
    Pre {
        /// The nonlinearity's index in pattern order.
        layer: usize,
        /// The pre-activations.
        values: &'a CudaSlice<f64>,
        /// Their columns.
        cols: usize,
    },
    /// The nonlinearity has written its choices to pattern units
    /// `offset .. offset + len` of `choices` (rows x all units).
    Chosen {
        /// The nonlinearity's index in pattern order.
        layer: usize,
        /// Its first pattern unit.
        offset: usize,
        /// Its unit count.
        len: usize,
        /// The pattern matrix.
        choices: &'a CudaSlice<u8>,
    },
}

/// The observer of a forward pass.
pub(crate) type Observer<'o> = dyn FnMut(Seen<'_>) -> Result<(), CudaError> + 'o;

/// A `u64` kernel argument.
fn arg(v: usize) -> u64 {
    v as u64
}

impl DeviceNet {
    /// Uploads the parameters of `steps` (a network with `input` inputs and
    /// `units` pattern units).
    pub(crate) fn upload(
        dev: &Device,
        steps: &[Step<'_>],
        input: usize,
        units: usize,
    ) -> Result<Self, CudaError> {
        let steps = steps
            .iter()
            .map(|step| {
                Ok(match *step {
                    Step::Dense { w, b } => DeviceStep::Dense {
                        w: dev.upload(&w.as_standard_layout().iter().copied().collect::<Vec<_>>())?,
                        b: dev.upload(&b.to_vec())?,
                        out: w.nrows(),
                        inp: w.ncols(),
                    },
                    Step::TwoPiece { slopes, len, offset } => DeviceStep::TwoPiece { slopes, len, offset },
                    Step::Max {
                        width,
                        cand,
                        input_len,
                        offset,
                        ..
                    } => DeviceStep::Max {
                        cand: dev.upload(cand)?,
                        width,
                        units: cand.len() / width.max(1),
                        input_len,
                        offset,
                    },
                })
            })
            .collect::<Result<Vec<_>, CudaError>>()?;
        Ok(DeviceNet { steps, input, units })
    }

    /// Runs `rows` points (`x`, rows x input) through the network, writing
    /// every unit's choice to `choices` (rows x units) and showing each
    /// nonlinearity to `observe`. Returns the outputs, rows x outputs.
    pub(crate) fn forward(
        &self,
        dev: &Device,
        x: CudaSlice<f64>,
        rows: usize,
        choices: &mut CudaSlice<u8>,
        observe: &mut Observer<'_>,
    ) -> Result<CudaSlice<f64>, CudaError> {
        debug_assert!(x.len() >= rows * self.input);
        self.forward_from(dev, 0, x, rows, choices, observe)
    }

    /// The first step when it is a dense layer: its weights (out x inp),
    /// bias and output width, for passes that fold it.
    pub(crate) fn first_dense(&self) -> Option<(&CudaSlice<f64>, &CudaSlice<f64>, usize)> {
        match self.steps.first() {
            Some(DeviceStep::Dense { w, b, out, .. }) => Some((w, b, *out)),
            _ => None,
        }
    }

    /// [`DeviceNet::forward`] from step `start` on, `h` holding the input
    /// of that step; the steps skipped must hold no nonlinearity (so that
    /// the observer's layer indices stay those of the whole network).
    pub(crate) fn forward_from(
        &self,
        dev: &Device,
        start: usize,
        h: CudaSlice<f64>,
        rows: usize,
        choices: &mut CudaSlice<u8>,
        observe: &mut Observer<'_>,
    ) -> Result<CudaSlice<f64>, CudaError> {
        debug_assert!(choices.len() >= rows * self.units);
        debug_assert!(self.steps[..start.min(self.steps.len())]
            .iter()
            .all(|s| matches!(s, DeviceStep::Dense { .. })));
        let mut h = h;
        let mut layer = 0;
        let (rows_a, stride_a) = (arg(rows), arg(self.units));
        for step in self.steps.iter().skip(start) {
            match step {
                DeviceStep::Dense { w, b, out, inp } => {
                    let mut y = dev.zeros::<f64>(rows * out)?;
                    dev.gemm(RowMajorGemm::nt(rows, *inp, *out), &h, w, &mut y)?;
                    let cols_a = arg(*out);
                    // Sizes: y is rows x out, b has out entries.
                    launch!(dev, Kernel::AddBias, rows * out; &mut y, b, &rows_a, &cols_a);
                    h = y;
                }
                DeviceStep::TwoPiece { slopes, len, offset } => {
                    observe(Seen::Pre {
                        layer,
                        values: &h,
                        cols: *len,
                    })?;
                    let (len_a, offset_a) = (arg(*len), arg(*offset));
                    // Sizes: h is rows x len, choices rows x units with
                    // offset + len <= units.
                    launch!(dev, Kernel::TwoPiece, rows * len;
                        &mut h, &rows_a, &len_a, &slopes[0], &slopes[1], &mut *choices, &stride_a, &offset_a);
                    observe(Seen::Chosen {
                        layer,
                        offset: *offset,
                        len: *len,
                        choices,
                    })?;
                    layer += 1;
                }
                DeviceStep::Max {
                    cand,
                    width,
                    units,
                    input_len,
                    offset,
                    ..
                } => {
                    observe(Seen::Pre {
                        layer,
                        values: &h,
                        cols: *input_len,
                    })?;
                    let mut out = dev.zeros::<f64>(rows * units)?;
                    let (in_a, width_a, units_a, offset_a) =
                        (arg(*input_len), arg(*width), arg(*units), arg(*offset));
                    // Sizes: h is rows x input_len, cand units x width with
                    // entries below input_len (or padding), out rows x units,
                    // choices rows x all units.
                    launch!(dev, Kernel::MaxUnits, rows * units;
                        &h, &rows_a, &in_a, cand, &width_a, &units_a, &mut out, &mut *choices, &stride_a, &offset_a);
                    h = out;
                    observe(Seen::Chosen {
                        layer,
                        offset: *offset,
                        len: *units,
                        choices,
                    })?;
                    layer += 1;
                }
            }
        }
        Ok(h)
    }

    /// Pulls covectors back to the input: `g` holds `block` rows per point
    /// (rows x outputs), `choices` the points' patterns (points x units).
    /// Returns rows x input.
    pub(crate) fn reverse(
        &self,
        dev: &Device,
        g: CudaSlice<f64>,
        rows: usize,
        block: usize,
        choices: &CudaSlice<u8>,
    ) -> Result<CudaSlice<f64>, CudaError> {
        let mut g = g;
        let (rows_a, block_a, stride_a) = (arg(rows), arg(block.max(1)), arg(self.units));
        for step in self.steps.iter().rev() {
            match step {
                DeviceStep::Dense { w, out, inp, .. } => {
                    let mut y = dev.zeros::<f64>(rows * inp)?;
                    dev.gemm(RowMajorGemm::nn(rows, *out, *inp), &g, w, &mut y)?;
                    g = y;
                }
                DeviceStep::TwoPiece { slopes, len, offset } => {
                    self.mask_columns(dev, &mut g, rows, block, choices, *slopes, *len, *offset)?;
                }
                DeviceStep::Max {
                    cand,
                    width,
                    units,
                    input_len,
                    offset,
                    ..
                } => {
                    let mut y = dev.zeros::<f64>(rows * input_len)?;
                    let (units_a, width_a, offset_a, in_a) =
                        (arg(*units), arg(*width), arg(*offset), arg(*input_len));
                    // Sizes: g is rows x units, y rows x input_len, cand
                    // units x width, choices (rows / block) x all units.
                    launch!(dev, Kernel::MaxScatter, rows;
                        &g, &rows_a, &units_a, &block_a, cand, &width_a, choices, &stride_a, &offset_a, &mut y, &in_a);
                    g = y;
                }
            }
        }
        Ok(g)
    }

    /// Multiplies column `u` of each point's rows of `m` (rows x `len`,
    /// `block` rows per point) by the slope of the piece the point's pattern
    /// chose for unit `offset + u`: a two-piece layer in either pass.
    #[allow(clippy::too_many_arguments)]
    fn mask_columns(
        &self,
        dev: &Device,
        m: &mut CudaSlice<f64>,
        rows: usize,
        block: usize,
        choices: &CudaSlice<u8>,
        slopes: [f64; 2],
        len: usize,
        offset: usize,
    ) -> Result<(), CudaError> {
        let (rows_a, len_a, block_a) = (arg(rows), arg(len), arg(block.max(1)));
        let (stride_a, offset_a) = (arg(self.units), arg(offset));
        // Sizes: m is rows x len, choices (rows / block) x units.
        launch!(dev, Kernel::MaskColumns, rows * len;
            m, &rows_a, &len_a, &block_a, choices, &stride_a, &offset_a, &slopes[0], &slopes[1]);
        Ok(())
    }

    /// Pushes tangents forward with the patterns frozen (forward mode):
    /// `t` holds `block` rows per point (rows x input), `choices` the
    /// points' patterns. Biases do not act on tangents. Returns rows x
    /// outputs.
    pub(crate) fn tangent(
        &self,
        dev: &Device,
        t: CudaSlice<f64>,
        rows: usize,
        block: usize,
        choices: &CudaSlice<u8>,
    ) -> Result<CudaSlice<f64>, CudaError> {
        let mut t = t;
        let (rows_a, block_a, stride_a) = (arg(rows), arg(block.max(1)), arg(self.units));
        for step in &self.steps {
            match step {
                DeviceStep::Dense { w, out, inp, .. } => {
                    let mut y = dev.zeros::<f64>(rows * out)?;
                    dev.gemm(RowMajorGemm::nt(rows, *inp, *out), &t, w, &mut y)?;
                    t = y;
                }
                DeviceStep::TwoPiece { slopes, len, offset } => {
                    self.mask_columns(dev, &mut t, rows, block, choices, *slopes, *len, *offset)?;
                }
                DeviceStep::Max {
                    cand,
                    width,
                    units,
                    input_len,
                    offset,
                    ..
                } => {
                    let mut y = dev.zeros::<f64>(rows * units)?;
                    let (in_a, units_a, width_a, offset_a) =
                        (arg(*input_len), arg(*units), arg(*width), arg(*offset));
                    // Sizes: t is rows x input_len, y rows x units, cand
                    // units x width, choices (rows / block) x all units.
                    launch!(dev, Kernel::MaxGather, rows * units;
                        &t, &rows_a, &in_a, &units_a, &block_a, cand, &width_a, choices, &stride_a, &offset_a, &mut y);
                    t = y;
                }
            }
        }
        Ok(t)
    }
}
