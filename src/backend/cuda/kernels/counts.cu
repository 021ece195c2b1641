// Local-complexity kernels (Backend::sign_changes): the 2P neighbourhood
// vertices of each point, and per point and layer the number of units whose
// three-valued sign (arg-max for max units) at some vertex differs from the
// first vertex's. Row-major, 64-bit indices, grid-stride loops, --fmad=false.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

// out ((points * 2P) x dim): row n * 2P + k is x_n + radius * d_k for k < P
// and x_n - radius * d_(k-P) otherwise, computed as the CPU does (the step
// radius * d first, then the sum). With x = W x + b and d = W d, the same
// kernel gives the first-layer pre-activations of the folded neighbourhood
// (IEEE addition commutes, so they match the CPU's fold bit for bit).
extern "C" __global__ void neighbourhood_f64(const double* x, const double* dirs, double radius, u64 points, u64 p,
                                             u64 dim, double* out) {
    GRID_STRIDE(i, points * 2 * p * dim) {
        u64 j = i % dim;
        u64 vertex = (i / dim) % (2 * p);
        u64 n = i / (dim * 2 * p);
        u64 k = vertex < p ? vertex : vertex - p;
        double step = dirs[k * dim + j] * radius;
        double base = x[n * dim + j];
        out[i] = vertex < p ? base + step : base - step;
    }
}

// 1 above zero, -1 below, 0 for both zeros and NaN.
__device__ int sign3(double v) {
    return (v > 0.0) - (v < 0.0);
}

// z ((points * verts) x len): counts[n * slots + slot] += the number of
// columns u where some vertex row of point n has another sign than its
// first row. counts must start at zero for the slot.
extern "C" __global__ void sign_changes_f64(const double* z, u64 points, u64 verts, u64 len, unsigned int* counts,
                                            u64 slot, u64 slots) {
    GRID_STRIDE(i, points * len) {
        u64 n = i / len;
        u64 u = i % len;
        const double* column = z + n * verts * len + u;
        int first = sign3(column[0]);
        for (u64 v = 1; v < verts; ++v) {
            if (sign3(column[v * len]) != first) {
                atomicAdd(&counts[n * slots + slot], 1u);
                break;
            }
        }
    }
}

// The same count for max units, comparing recorded arg-max choices: units
// offset .. offset + len of a pattern matrix with unit_stride columns.
extern "C" __global__ void choice_changes_u8(const unsigned char* choices, u64 points, u64 verts, u64 unit_stride,
                                             u64 offset, u64 len, unsigned int* counts, u64 slot, u64 slots) {
    GRID_STRIDE(i, points * len) {
        u64 n = i / len;
        u64 u = i % len;
        const unsigned char* column = choices + n * verts * unit_stride + offset + u;
        unsigned char first = column[0];
        for (u64 v = 1; v < verts; ++v) {
            if (column[v * unit_stride] != first) {
                atomicAdd(&counts[n * slots + slot], 1u);
                break;
            }
        }
    }
}
