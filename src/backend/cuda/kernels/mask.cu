// Jacobian kernels (Backend::jacobians): identity seeds, pattern masking of
// two-piece layers, and max units in reverse mode (scatter) and forward mode
// (gather). Matrices hold `block` rows per point (row r belongs to point
// r / block). Row-major, 64-bit indices, grid-stride loops, --fmad=false.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

#define NO_CANDIDATE 0xffffffffu

// g ((points * m) x m): one m x m identity per point.
extern "C" __global__ void eye_blocks_f64(double* g, u64 points, u64 m) {
    GRID_STRIDE(i, points * m * m) {
        u64 col = i % m;
        u64 row = (i / m) % m;
        g[i] = row == col ? 1.0 : 0.0;
    }
}

// g (rows x len): column u of point p's rows times the slope of the piece
// choices[p * unit_stride + offset + u].
extern "C" __global__ void mask_columns_f64(double* g, u64 rows, u64 len, u64 block, const unsigned char* choices,
                                            u64 unit_stride, u64 offset, double slope_neg, double slope_pos) {
    GRID_STRIDE(i, rows * len) {
        u64 r = i / len;
        u64 u = i % len;
        unsigned char piece = choices[(r / block) * unit_stride + offset + u];
        g[i] *= piece ? slope_pos : slope_neg;
    }
}

// out (rows x in_len, zeroed) += g (rows x units) sent back through each
// unit's chosen candidate. One thread per row adds the units in increasing
// order, as the CPU does, so overlapping windows sum in the same order.
extern "C" __global__ void max_scatter_f64(const double* g, u64 rows, u64 units, u64 block, const unsigned int* cand,
                                           u64 width, const unsigned char* choices, u64 unit_stride, u64 offset,
                                           double* out, u64 in_len) {
    GRID_STRIDE(r, rows) {
        const unsigned char* chosen = choices + (r / block) * unit_stride + offset;
        for (u64 j = 0; j < units; ++j) {
            u64 t = chosen[j];
            if (t >= width) {
                continue;
            }
            unsigned int src = cand[j * width + t];
            if (src == NO_CANDIDATE) {
                continue;
            }
            out[r * in_len + src] += g[r * units + j];
        }
    }
}

// Forward-mode (tangent) pass through max units: out[r, j] (rows x units) =
// t[r, chosen input of unit j of point r / block]; 0 where the choice
// names no candidate.
extern "C" __global__ void max_gather_f64(const double* t, u64 rows, u64 in_len, u64 units, u64 block,
                                          const unsigned int* cand, u64 width, const unsigned char* choices,
                                          u64 unit_stride, u64 offset, double* out) {
    GRID_STRIDE(i, rows * units) {
        u64 r = i / units;
        u64 j = i % units;
        u64 c = choices[(r / block) * unit_stride + offset + j];
        unsigned int src = c < width ? cand[j * width + c] : NO_CANDIDATE;
        out[i] = src == NO_CANDIDATE ? 0.0 : t[r * in_len + src];
    }
}
