//! The CUDA backend's own error type, boxed into [`crate::Error::Backend`]
//! so that no cudarc type appears in the crate's public error.

use cudarc::cublas::result::CublasError;
use cudarc::driver::DriverError;
use cudarc::nvrtc::CompileError;

/// What can fail on the device once the backend is up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CudaError {
    /// A driver call failed (allocation, copy, launch, module load).
    #[error("CUDA driver: {0}")]
    Driver(#[from] DriverError),
    /// A cuBLAS call failed.
    #[error("cuBLAS: {0}")]
    Blas(#[from] CublasError),
    /// NVRTC rejected a kernel source.
    #[error("NVRTC could not compile {file}: {source}")]
    Compile {
        /// The `.cu` file.
        file: &'static str,
        /// NVRTC's error, with its log.
        #[source]
        source: CompileError,
    },
    /// A dimension does not fit cuBLAS's 32-bit integers.
    #[error("{what} = {value} does not fit a 32-bit cuBLAS dimension")]
    TooLarge {
        /// The dimension.
        what: &'static str,
        /// Its value.
        value: usize,
    },
    /// A downloaded buffer does not have the expected number of elements.
    #[error("device result {what} has {got} elements, expected {expected}")]
    Layout {
        /// The buffer.
        what: &'static str,
        /// Expected element count.
        expected: usize,
        /// Actual element count.
        got: usize,
    },
    /// A cudarc call panicked (a missing driver symbol, for instance); the
    /// panic was caught at the backend's boundary.
    #[error("a CUDA call panicked: {0}")]
    Panic(String),
}

impl CudaError {
    /// The message of a caught panic payload.
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> CudaError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        CudaError::Panic(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_payloads_keep_their_message() {
        let caught = std::panic::catch_unwind(|| panic!("no symbol cuFoo")).unwrap_err();
        assert!(CudaError::from_panic(caught)
            .to_string()
            .contains("no symbol cuFoo"));
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert!(CudaError::from_panic(caught).to_string().contains("unknown"));
    }
}
