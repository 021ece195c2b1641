// Hyperplane sign kernels (Backend::hyperplane_signs): absolute values for
// the magnitude product, and the three-valued sign of a_i . p + c_i with a
// tolerance relative to the summed magnitudes. Row-major, 64-bit indices,
// grid-stride loops, --fmad=false.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

// out[i] = |x[i]|.
extern "C" __global__ void abs_f64(const double* x, double* out, u64 n) {
    GRID_STRIDE(i, n) {
        out[i] = fabs(x[i]);
    }
}

// values, scale (rows x k): p . a_j and |p| . |a_j|. out[i] is 0 when
// |value + c_j| <= tol (scale + |c_j|), else the sign of value + c_j
// (NaN gives -1, as on the CPU).
extern "C" __global__ void hyperplane_signs_f64(const double* values, const double* scale, const double* c, double tol,
                                                u64 rows, u64 k, signed char* out) {
    GRID_STRIDE(i, rows * k) {
        u64 j = i % k;
        double val = values[i] + c[j];
        double mag = scale[i] + fabs(c[j]);
        out[i] = fabs(val) <= tol * mag ? 0 : (val > 0.0 ? 1 : -1);
    }
}
