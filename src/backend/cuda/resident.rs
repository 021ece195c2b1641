//! Point sets kept in device memory between calls
//! ([`crate::backend::Backend::prepare_points`]): the probe points of local
//! complexity are uploaded once and read on the device for every network.
//!
//! Only the points stay: the neighbourhood is folded through the first
//! dense layer (`W x + b` and `W v`), and those weights change with every
//! network, so the fold is recomputed on the device for each call (one GEMM
//! over the points, one over the directions), from the resident points.

use std::ops::Range;
use std::sync::Arc;

use cudarc::driver::CudaSlice;
use ndarray::ArrayView2;

use super::device::Device;
use super::error::CudaError;
use super::ops::PointSource;

/// The points of a prepared set on one device, row-major.
pub(crate) struct ResidentPoints {
    device: Arc<Device>,
    /// `Some` until dropped (taken in `drop`, inside a session).
    points: Option<CudaSlice<f64>>,
    dim: usize,
}

impl ResidentPoints {
    /// Uploads `points` (one per row) to `device`.
    pub(crate) fn upload(device: &Arc<Device>, points: ArrayView2<f64>) -> Result<Self, CudaError> {
        let host = points.as_standard_layout();
        let values = host.as_slice().ok_or(CudaError::Layout {
            what: "prepared points",
            expected: points.len(),
            got: 0,
        })?;
        Ok(ResidentPoints {
            device: device.clone(),
            points: Some(device.upload_values(values)?),
            dim: points.ncols(),
        })
    }

    /// Whether the points live on `device` (a set prepared by a backend on
    /// another device is read from the host instead).
    pub(crate) fn is_on(&self, device: &Arc<Device>) -> bool {
        Arc::ptr_eq(&self.device, device)
    }

    /// Rows `rows` of the set, as the source of a call.
    pub(crate) fn source(&self, rows: Range<usize>) -> Result<PointSource<'_>, CudaError> {
        let data = self.points.as_ref().ok_or(CudaError::Layout {
            what: "resident points (released)",
            expected: rows.end * self.dim,
            got: 0,
        })?;
        Ok(PointSource::Resident {
            data,
            first: rows.start,
            rows: rows.len(),
            dim: self.dim,
        })
    }
}

impl Drop for ResidentPoints {
    fn drop(&mut self) {
        // Freeing needs the context current on this thread; the session
        // also keeps the free from interleaving with a running call.
        let _session = self.device.session();
        drop(self.points.take());
    }
}
