//! Page-locked staging for large `f64` copies between host and device.
//!
//! The driver copies pageable host memory through small bounce buffers of
//! its own, which measured 1.5 to 2 GB/s on the device machine (a VM); a
//! copy from page-locked memory runs at the bus's rate. Two page-locked
//! pieces alternate, so that the host's copy of one piece into (or out of)
//! pinned memory overlaps the transfer of the other.

use std::sync::Arc;

use cudarc::driver::sys::CU_MEMHOSTALLOC_WRITECOMBINED;
use cudarc::driver::{CudaContext, CudaEvent, CudaSlice, CudaStream, PinnedHostSlice};

use super::error::CudaError;

/// Elements per staging piece (8 MiB of `f64`).
const PIECE: usize = 1 << 20;

/// Copies shorter than this go straight from pageable memory: staging pays
/// only once there are pieces to overlap.
pub(crate) const MIN_STAGED: usize = 2 * PIECE;

/// Two pinned pieces for uploads (write-combined: the host only writes
/// them) and two for downloads (cached: the host reads them), each with the
/// event of the last transfer that used it. (cudarc records its own events
/// on pinned memory only when it manages several streams, which we do not,
/// so the pieces carry ours.)
pub(crate) struct Staging {
    up: [PinnedHostSlice<f64>; 2],
    down: [PinnedHostSlice<f64>; 2],
    up_done: [Option<CudaEvent>; 2],
    down_done: [Option<CudaEvent>; 2],
}

/// Waits for the transfer recorded in `event`, if any.
fn wait(event: &Option<CudaEvent>) -> Result<(), CudaError> {
    if let Some(e) = event {
        e.synchronize()?;
    }
    Ok(())
}

impl Staging {
    /// Allocates the four pieces (32 MiB of page-locked memory).
    pub(crate) fn new(ctx: &Arc<CudaContext>) -> Result<Staging, CudaError> {
        // SAFETY: pinned memory starts uninitialised; upload pieces are
        // written in full before a copy reads them, and download pieces are
        // read only after a copy into them has completed (their events).
        unsafe {
            Ok(Staging {
                up: [
                    ctx.alloc_pinned_with_flags(PIECE, CU_MEMHOSTALLOC_WRITECOMBINED)?,
                    ctx.alloc_pinned_with_flags(PIECE, CU_MEMHOSTALLOC_WRITECOMBINED)?,
                ],
                down: [
                    ctx.alloc_pinned_with_flags(PIECE, 0)?,
                    ctx.alloc_pinned_with_flags(PIECE, 0)?,
                ],
                up_done: [None, None],
                down_done: [None, None],
            })
        }
    }

    /// Copies `host` into the first `host.len()` elements of `dst`.
    pub(crate) fn upload(
        &mut self,
        stream: &Arc<CudaStream>,
        host: &[f64],
        dst: &mut CudaSlice<f64>,
    ) -> Result<(), CudaError> {
        let full = host.len() / PIECE * PIECE;
        for (k, piece) in host[..full].chunks_exact(PIECE).enumerate() {
            let slot = k % 2;
            wait(&self.up_done[slot])?;
            let pinned = &mut self.up[slot];
            pinned.as_mut_slice()?.copy_from_slice(piece);
            let mut target = dst.slice_mut(k * PIECE..(k + 1) * PIECE);
            stream.memcpy_htod(pinned, &mut target)?;
            self.up_done[slot] = Some(stream.record_event(None)?);
        }
        if full < host.len() {
            let mut target = dst.slice_mut(full..host.len());
            stream.memcpy_htod(&host[full..], &mut target)?;
        }
        Ok(())
    }

    /// Copies the first `host.len()` elements of `src` into `host`, and
    /// waits for the stream.
    pub(crate) fn download(
        &mut self,
        stream: &Arc<CudaStream>,
        src: &CudaSlice<f64>,
        host: &mut [f64],
    ) -> Result<(), CudaError> {
        let pieces = host.len() / PIECE;
        for k in 0..pieces {
            let slot = k % 2;
            stream.memcpy_dtoh(&src.slice(k * PIECE..(k + 1) * PIECE), &mut self.down[slot])?;
            self.down_done[slot] = Some(stream.record_event(None)?);
            if k >= 1 {
                self.copy_out(k - 1, host)?;
            }
        }
        if pieces >= 1 {
            self.copy_out(pieces - 1, host)?;
        }
        let full = pieces * PIECE;
        if full < host.len() {
            stream.memcpy_dtoh(&src.slice(full..host.len()), &mut host[full..])?;
        }
        stream.synchronize()?;
        Ok(())
    }

    /// Piece `k` from its pinned buffer into `host` (waiting for its copy).
    fn copy_out(&self, k: usize, host: &mut [f64]) -> Result<(), CudaError> {
        wait(&self.down_done[k % 2])?;
        let pinned = self.down[k % 2].as_slice()?;
        host[k * PIECE..(k + 1) * PIECE].copy_from_slice(pinned);
        Ok(())
    }
}
