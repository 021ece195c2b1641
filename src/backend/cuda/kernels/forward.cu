// Forward-pass kernels (Backend::forward): bias, two-piece activations and
// max units, each recording the activation pattern. Matrices are row-major,
// one point per row; indices are 64-bit and every kernel is a grid-stride
// loop, so any launch size covers any problem size. Compiled by NVRTC with
// --fmad=false: each value is the same sequence of IEEE operations as in the
// CPU backend (src/network/eval.rs).

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

// Marks a padding position in a max unit's candidate list (u32::MAX).
#define NO_CANDIDATE 0xffffffffu

// y (rows x cols) += b (cols), row by row.
extern "C" __global__ void add_bias_f64(double* y, const double* b, u64 rows, u64 cols) {
    GRID_STRIDE(i, rows * cols) {
        y[i] += b[i % cols];
    }
}

// A two-piece activation in place on z (rows x len): piece 1 where z > 0,
// else piece 0 (both zeros and NaN take piece 0), z *= slope of the piece.
// The piece goes to choices[r * unit_stride + offset + u].
extern "C" __global__ void two_piece_f64(double* z, u64 rows, u64 len, double slope_neg, double slope_pos,
                                         unsigned char* choices, u64 unit_stride, u64 offset) {
    GRID_STRIDE(i, rows * len) {
        u64 r = i / len;
        u64 u = i % len;
        double v = z[i];
        bool positive = v > 0.0;
        choices[r * unit_stride + offset + u] = positive ? 1 : 0;
        z[i] = v * (positive ? slope_pos : slope_neg);
    }
}

// Max units: out[r, j] = max over t of h[r, cand[j * width + t]], skipping
// padding; the first maximum wins (ties go to the lowest t). A unit without
// candidates gets -inf and choice 255, as on the CPU.
extern "C" __global__ void max_units_f64(const double* h, u64 rows, u64 in_len, const unsigned int* cand, u64 width,
                                         u64 units, double* out, unsigned char* choices, u64 unit_stride, u64 offset) {
    GRID_STRIDE(i, rows * units) {
        u64 r = i / units;
        u64 j = i % units;
        const double* row = h + r * in_len;
        u64 arg = ~0ull;
        double best = __longlong_as_double(0xfff0000000000000ll);
        for (u64 t = 0; t < width; ++t) {
            unsigned int src = cand[j * width + t];
            if (src == NO_CANDIDATE) {
                continue;
            }
            double v = row[src];
            if (arg == ~0ull || v > best) {
                arg = t;
                best = v;
            }
        }
        out[i] = best;
        choices[r * unit_stride + offset + j] = (unsigned char)arg;
    }
}
