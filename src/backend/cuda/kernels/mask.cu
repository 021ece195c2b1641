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

// in (count blocks of r x c) -> out (count blocks of c x r): the forward-mode
// tangents (inputs x outputs per point) as Jacobians (outputs x inputs), so
// that the host receives them in its layout with one contiguous copy.
extern "C" __global__ void transpose_blocks_f64(const double* in, u64 count, u64 r, u64 c, double* out) {
    GRID_STRIDE(i, count * r * c) {
        u64 row = (i / r) % c;
        u64 col = i % r;
        u64 n = i / (r * c);
        out[i] = in[n * r * c + col * c + row];
    }
}

// The LES Gram factor (Backend::les_grams): logits (points x m, m = L V),
// tangents (points blocks of d x m: row j is the derivative of every output
// by latent j) -> x (points blocks of d x (m + L)). With p the softmax of
// position t, Z its partition function and s_j = sum_v p_v A_tv,j: column
// t V + v of row j is p_v (A_tv,j - s_j) and column m + t is s_j / Z, so
// that x x^T is the Gram matrix. One thread per point and position.
//
// The same formulas as the CPU's (Softmax::of and Softmax::centred in
// src/softmax.rs; values agree to rounding, as the GPU's exp and the order
// of the normaliser's sum differ): A_tv,j - s_j is taken around the top
// symbol k (the first largest logit) as (a_v - a_k) + sum_{u != k} p_u
// (a_k - a_u), because for a peaked softmax a_k - s_j is of the size of
// 1 - p_k, which the plain difference loses once p_k rounds to 1 (logit
// spreads above about 37).
//
// Each probability p_v = exp(l_v - top) / sum is computed once per point and
// position, not once per latent and loop: the thread keeps them in the
// columns it owns of the point's first row (j = 0), which it writes last,
// each p_v read just before its slot is overwritten. The values are the
// same bits as computing p_v afresh at every use.
extern "C" __global__ void les_factor_f64(const double* logits, const double* tangents, u64 points, u64 seq_len,
                                          u64 vocab, u64 d, double* x) {
    GRID_STRIDE(i, points * seq_len) {
        u64 n = i / seq_len;
        u64 t = i % seq_len;
        u64 m = seq_len * vocab;
        u64 w = m + seq_len;
        if (d == 0) continue;
        const double* l = logits + n * m + t * vocab;
        u64 k = 0;
        for (u64 v = 1; v < vocab; ++v) {
            if (l[v] > l[k]) k = v;
        }
        double top = l[k];
        double* p = x + n * d * w + t * vocab;
        double sum = 0.0;
        for (u64 v = 0; v < vocab; ++v) {
            p[v] = exp(l[v] - top);
            sum += p[v];
        }
        for (u64 v = 0; v < vocab; ++v) p[v] /= sum;
        double inv_z = exp(-(top + log(sum)));
        for (u64 j = d; j-- > 0;) {
            const double* a = tangents + (n * d + j) * m + t * vocab;
            double* row = x + (n * d + j) * w;
            double a_top = a[k];
            double spread = 0.0;
            for (u64 u = 0; u < vocab; ++u) {
                if (u != k) spread += p[u] * (a_top - a[u]);
            }
            for (u64 v = 0; v < vocab; ++v) {
                row[t * vocab + v] = p[v] * ((a[v] - a_top) + spread);
            }
            row[m + t] = (a_top - spread) * inv_z;
        }
    }
}
