# Sourced by scripts/gpu_check.sh and scripts/device_check.sh: makes the CUDA
# libraries the `cuda` feature loads at run time findable.
#
# cudarc (built for CUDA 12.8, dynamic loading) looks for libcublas.so,
# libnvrtc.so or their .so.12 names; a CUDA 13 image ships only .so.13
# (whose API covers what the backend calls), so point both names at
# whatever version is installed, and put them first on the library path.
link_cuda_libraries() {
    local dir=/tmp/cpwl_cudalibs extra="" lib f
    mkdir -p "$dir"
    for lib in cublas cublasLt nvrtc nvrtc-builtins; do
        f=$( (ldconfig -p | awk '{print $NF}' | grep "/lib${lib}\.so"; \
              find /usr/local/cuda*/ /opt /usr/lib -name "lib${lib}.so*" 2>/dev/null) | grep -v stub | head -1)
        echo "lib${lib}: ${f:-not found}"
        if [[ -n "$f" ]]; then
            ln -sf "$f" "$dir/lib${lib}.so"
            ln -sf "$f" "$dir/lib${lib}.so.12"
            extra="$extra:$(dirname "$f")"
        fi
    done
    export LD_LIBRARY_PATH="$dir$extra:${LD_LIBRARY_PATH:-}"
}
