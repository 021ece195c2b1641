//! The CUDA C sources of the custom kernels, one file per kernel family,
//! compiled at run time by NVRTC (so building the crate needs no CUDA
//! toolkit) and loaded once per device on first use.
//!
//! Kernels are named `<op>_<type>` after the [`crate::backend::Backend`]
//! method they serve. Every source is compiled with `--fmad=false`: no
//! multiply-add is contracted, so each element is the same sequence of IEEE
//! double operations as in the CPU backend and patterns, neighbourhood
//! vertices and signs come out bit-identical (only the cuBLAS GEMMs sum in
//! another order).

use cudarc::nvrtc::CompileOptions;

/// A kernel family: one `.cu` file, one module on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Module {
    /// Bias, two-piece activations, max units (`forward.cu`).
    Forward,
    /// Neighbourhood vertices and sign-change counts (`counts.cu`).
    Counts,
    /// Jacobian seeds and masking, reverse and forward mode (`mask.cu`).
    Mask,
}

impl Module {
    /// Every module, in cache-slot order.
    pub(crate) const ALL: [Module; 3] = [Module::Forward, Module::Counts, Module::Mask];

    /// The module's slot in the device's cache.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// The file name, for NVRTC's messages.
    pub(crate) fn file(self) -> &'static str {
        match self {
            Module::Forward => "forward.cu",
            Module::Counts => "counts.cu",
            Module::Mask => "mask.cu",
        }
    }

    /// The CUDA C source.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Module::Forward => include_str!("forward.cu"),
            Module::Counts => include_str!("counts.cu"),
            Module::Mask => include_str!("mask.cu"),
        }
    }

    /// The NVRTC options: no contracted multiply-adds, named after the file.
    pub(crate) fn options(self) -> CompileOptions {
        CompileOptions {
            fmad: Some(false),
            name: Some(self.file().to_string()),
            ..CompileOptions::default()
        }
    }
}

/// One kernel: its module and its `extern "C"` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// `y += b` row by row.
    AddBias,
    /// Two-piece activation in place, recording pieces.
    TwoPiece,
    /// Max units, recording arg-max choices.
    MaxUnits,
    /// The 2P vertices of every point's neighbourhood.
    Neighbourhood,
    /// Sign-change count of a two-piece layer or the output.
    SignChanges,
    /// Arg-max-change count of a max layer.
    ChoiceChanges,
    /// Identity blocks seeding the reverse pass.
    EyeBlocks,
    /// Reverse-pass masking of a two-piece layer.
    MaskColumns,
    /// Reverse pass through max units.
    MaxScatter,
    /// Forward-mode (tangent) pass through max units.
    MaxGather,
    /// Block-wise transposition (forward-mode tangents to Jacobians).
    TransposeBlocks,
    /// The factor of the LES Gram matrix from logits and tangents.
    LesFactor,
}

impl Kernel {
    /// Every kernel.
    #[cfg(test)]
    pub(crate) const ALL: [Kernel; 12] = [
        Kernel::AddBias,
        Kernel::TwoPiece,
        Kernel::MaxUnits,
        Kernel::Neighbourhood,
        Kernel::SignChanges,
        Kernel::ChoiceChanges,
        Kernel::EyeBlocks,
        Kernel::MaskColumns,
        Kernel::MaxScatter,
        Kernel::MaxGather,
        Kernel::TransposeBlocks,
        Kernel::LesFactor,
    ];

    /// The module that defines the kernel.
    pub(crate) fn module(self) -> Module {
        match self {
            Kernel::AddBias | Kernel::TwoPiece | Kernel::MaxUnits => Module::Forward,
            Kernel::Neighbourhood | Kernel::SignChanges | Kernel::ChoiceChanges => Module::Counts,
            Kernel::EyeBlocks
            | Kernel::MaskColumns
            | Kernel::MaxScatter
            | Kernel::MaxGather
            | Kernel::TransposeBlocks
            | Kernel::LesFactor => Module::Mask,
        }
    }

    /// The kernel's `extern "C"` name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kernel::AddBias => "add_bias_f64",
            Kernel::TwoPiece => "two_piece_f64",
            Kernel::MaxUnits => "max_units_f64",
            Kernel::Neighbourhood => "neighbourhood_f64",
            Kernel::SignChanges => "sign_changes_f64",
            Kernel::ChoiceChanges => "choice_changes_u8",
            Kernel::EyeBlocks => "eye_blocks_f64",
            Kernel::MaskColumns => "mask_columns_f64",
            Kernel::MaxScatter => "max_scatter_f64",
            Kernel::MaxGather => "max_gather_f64",
            Kernel::TransposeBlocks => "transpose_blocks_f64",
            Kernel::LesFactor => "les_factor_f64",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_defined_in_its_module() {
        for kernel in Kernel::ALL {
            let declaration = format!("__global__ void {}(", kernel.name());
            assert!(
                kernel.module().source().contains(&declaration),
                "{} not found in {}",
                kernel.name(),
                kernel.module().file()
            );
        }
    }

    #[test]
    fn module_slots_are_distinct_and_dense() {
        for (i, m) in Module::ALL.iter().enumerate() {
            assert_eq!(m.slot(), i);
        }
    }

    #[test]
    fn sources_are_compiled_without_contraction() {
        for m in Module::ALL {
            assert_eq!(m.options().fmad, Some(false));
            assert!(m.source().contains("extern \"C\" __global__"));
        }
    }

    #[test]
    fn sources_compile_with_nvrtc_where_it_is_installed() {
        // NVRTC needs no GPU: where its library can be loaded (for example
        // from the nvidia-cuda-nvrtc-cu12 wheel on LD_LIBRARY_PATH), every
        // module must compile with the backend's options and define its
        // kernels.
        // SAFETY: `is_culib_present` only tries to dlopen the library by name.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            eprintln!("skipping: no NVRTC library to compile the kernels with");
            return;
        }
        for module in Module::ALL {
            let ptx = cudarc::nvrtc::compile_ptx_with_opts(module.source(), module.options())
                .unwrap_or_else(|e| panic!("{}: {e}", module.file()));
            let text = ptx.to_src();
            for kernel in Kernel::ALL.iter().filter(|k| k.module() == module) {
                assert!(
                    text.contains(&format!(".entry {}(", kernel.name())),
                    "{} has no entry {}",
                    module.file(),
                    kernel.name()
                );
            }
        }
    }
}
