// Runs the CUDA kernels of src/backend/cuda/kernels/*.cu on the host, as
// plain C++ with a thin shim for the CUDA built-ins, and compares each with
// a reference loop written here. This checks the kernels' indexing, their
// grid-stride loops (launched with several small blocks) and their
// arithmetic on a machine without a GPU or CUDA toolkit; it says nothing
// about NVRTC or the driver. Built and run by scripts/cu_host_check.sh.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

// ---- shim for the CUDA built-ins the kernels use ----
struct Dim3 {
    unsigned x = 0, y = 1, z = 1;
};
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
static unsigned atomicAdd(unsigned* p, unsigned v) {
    unsigned old = *p;
    *p += v;
    return old;
}
static double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

#include "../src/backend/cuda/kernels/counts.cu"
#include "../src/backend/cuda/kernels/forward.cu"
#include "../src/backend/cuda/kernels/mask.cu"

// Every (block, thread) of a small grid, one after another: the grid-stride
// loops must cover any problem size with any launch shape.
static void launch(const std::function<void()>& kernel) {
    gridDim.x = 3;
    blockDim.x = 5;
    for (unsigned b = 0; b < gridDim.x; ++b) {
        for (unsigned t = 0; t < blockDim.x; ++t) {
            blockIdx.x = b;
            threadIdx.x = t;
            kernel();
        }
    }
}

static int failures = 0;
#define CHECK(cond, ...)                          \
    do {                                          \
        if (!(cond)) {                            \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            std::printf(__VA_ARGS__);             \
            std::printf("\n");                    \
            ++failures;                           \
        }                                         \
    } while (0)

static std::mt19937_64 rng(12345);

// Values with exact zeros of both signs and small and ordinary magnitudes.
static double value() {
    switch (rng() % 6) {
        case 0: return 0.0;
        case 1: return -0.0;
        case 2: return 1e-300 * ((rng() % 2) ? 1 : -1);
        default: return std::uniform_real_distribution<double>(-3.0, 3.0)(rng);
    }
}

static std::vector<double> values(size_t n) {
    std::vector<double> v(n);
    for (auto& x : v) x = value();
    return v;
}

static bool same_bits(double a, double b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

static int sign(double v) {
    return v > 0.0 ? 1 : (v < 0.0 ? -1 : 0);
}

static void check_add_bias() {
    u64 rows = 7, cols = 3;
    auto y = values(rows * cols), b = values(cols);
    auto want = y;
    for (u64 r = 0; r < rows; ++r)
        for (u64 c = 0; c < cols; ++c) want[r * cols + c] = y[r * cols + c] + b[c];
    launch([&] { add_bias_f64(y.data(), b.data(), rows, cols); });
    for (size_t i = 0; i < y.size(); ++i) CHECK(same_bits(y[i], want[i]), "add_bias %zu", i);
}

static void check_two_piece() {
    u64 rows = 6, len = 7, stride = 11, offset = 2;
    double slopes[][2] = {{0.0, 1.0}, {0.25, 1.0}, {-1.0, 1.0}};
    for (auto& s : slopes) {
        auto z = values(rows * len);
        auto want = z;
        std::vector<unsigned char> choices(rows * stride, 9), want_choices(rows * stride, 9);
        for (u64 r = 0; r < rows; ++r)
            for (u64 u = 0; u < len; ++u) {
                double v = z[r * len + u];
                int piece = v > 0.0;
                want_choices[r * stride + offset + u] = piece;
                want[r * len + u] = v * s[piece];
            }
        launch([&] { two_piece_f64(z.data(), rows, len, s[0], s[1], choices.data(), stride, offset); });
        for (size_t i = 0; i < z.size(); ++i) CHECK(same_bits(z[i], want[i]), "two_piece value %zu", i);
        CHECK(choices == want_choices, "two_piece choices");
    }
}

static void check_max_units() {
    // 3 units of width 3 over 5 inputs, with padding and a repeated input (ties).
    const unsigned N = 0xffffffffu;
    std::vector<unsigned> cand = {0, 1, N, 2, 2, 3, N, N, N};
    u64 rows = 4, in_len = 5, width = 3, units = 3, stride = 6, offset = 1;
    auto h = values(rows * in_len);
    h[1 * in_len + 0] = h[1 * in_len + 1] = 2.0;  // a tie: the first wins
    std::vector<double> out(rows * units);
    std::vector<unsigned char> choices(rows * stride, 7);
    launch([&] { max_units_f64(h.data(), rows, in_len, cand.data(), width, units, out.data(), choices.data(), stride, offset); });
    for (u64 r = 0; r < rows; ++r)
        for (u64 j = 0; j < units; ++j) {
            int arg = -1;
            double best = -INFINITY;
            for (u64 t = 0; t < width; ++t) {
                unsigned src = cand[j * width + t];
                if (src == N) continue;
                if (arg < 0 || h[r * in_len + src] > best) {
                    arg = (int)t;
                    best = h[r * in_len + src];
                }
            }
            CHECK(same_bits(out[r * units + j], best), "max value %llu %llu", r, j);
            CHECK(choices[r * stride + offset + j] == (unsigned char)(arg < 0 ? 255 : arg), "max choice %llu %llu", r, j);
        }
    CHECK(choices[1 * stride + offset + 0] == 0, "ties go to the first candidate");
    CHECK(choices[0 * stride + offset + 2] == 255, "a unit without candidates chooses 255");
}

static void check_neighbourhood() {
    u64 points = 3, p = 4, dim = 5;
    auto x = values(points * dim), dirs = values(p * dim);
    double radius = 0.37;
    std::vector<double> out(points * 2 * p * dim);
    launch([&] { neighbourhood_f64(x.data(), dirs.data(), radius, points, p, dim, out.data()); });
    for (u64 n = 0; n < points; ++n)
        for (u64 k = 0; k < p; ++k)
            for (u64 j = 0; j < dim; ++j) {
                double step = dirs[k * dim + j] * radius;
                double plus = x[n * dim + j] + step, minus = x[n * dim + j] - step;
                CHECK(same_bits(out[(n * 2 * p + k) * dim + j], plus), "vertex +");
                CHECK(same_bits(out[(n * 2 * p + p + k) * dim + j], minus), "vertex -");
            }
}

static void check_transpose_blocks() {
    u64 count = 3, r = 4, c = 7;
    auto in = values(count * r * c);
    std::vector<double> out(count * r * c);
    launch([&] { transpose_blocks_f64(in.data(), count, r, c, out.data()); });
    for (u64 n = 0; n < count; ++n)
        for (u64 i = 0; i < r; ++i)
            for (u64 j = 0; j < c; ++j)
                CHECK(out[n * r * c + j * r + i] == in[n * r * c + i * c + j], "transposed block");
}

static void check_les_factor() {
    u64 points = 2, seq_len = 3, vocab = 4, d = 5, m = seq_len * vocab, w = m + seq_len;
    auto logits = values(points * m), tangents = values(points * d * m);
    std::vector<double> x(points * d * w);
    launch([&] { les_factor_f64(logits.data(), tangents.data(), points, seq_len, vocab, d, x.data()); });
    // x x^T must equal A^T blockdiag(S_t)^T blockdiag(S_t) A with S_t's top
    // rows diag(p) - p p^T and last row -p^T / Z, formed densely.
    for (u64 n = 0; n < points; ++n)
        for (u64 i = 0; i < d; ++i)
            for (u64 k = 0; k < d; ++k) {
                double got = 0.0, want = 0.0;
                for (u64 c = 0; c < w; ++c) got += x[(n * d + i) * w + c] * x[(n * d + k) * w + c];
                for (u64 t = 0; t < seq_len; ++t) {
                    const double* l = &logits[n * m + t * vocab];
                    double z = 0.0;
                    for (u64 v = 0; v < vocab; ++v) z += std::exp(l[v]);
                    for (u64 r = 0; r <= vocab; ++r) {
                        double ji = 0.0, jk = 0.0;
                        for (u64 v = 0; v < vocab; ++v) {
                            double pr = r < vocab ? std::exp(l[r]) / z : 0.0, pv = std::exp(l[v]) / z;
                            double s = r < vocab ? (r == v ? pv : 0.0) - pr * pv : -pv / z;
                            ji += s * tangents[(n * d + i) * m + t * vocab + v];
                            jk += s * tangents[(n * d + k) * m + t * vocab + v];
                        }
                        want += ji * jk;
                    }
                }
                CHECK(std::fabs(got - want) <= 1e-12 * (1.0 + std::fabs(want)), "LES Gram factor");
            }
}

// The factor's bits against the formula evaluated afresh at every use (each
// p_v = exp(l_v - top) / sum recomputed per latent and loop, as the kernel
// did before it kept the probabilities), rows written in any order.
static void check_les_factor_bits() {
    u64 points = 3, seq_len = 2, vocab = 5, d = 4, m = seq_len * vocab, w = m + seq_len;
    auto logits = values(points * m), tangents = values(points * d * m);
    // Point 0's first position: symbols 1 and 3 tie above all others (for
    // any seed), so the first of them must be the top.
    double top0 = logits[0];
    for (u64 v = 1; v < vocab; ++v) top0 = std::fmax(top0, logits[v]);
    logits[1] = logits[3] = top0 + 1.0;
    std::vector<double> x(points * d * w, -1.0);
    launch([&] { les_factor_f64(logits.data(), tangents.data(), points, seq_len, vocab, d, x.data()); });
    for (u64 n = 0; n < points; ++n)
        for (u64 t = 0; t < seq_len; ++t) {
            const double* l = &logits[n * m + t * vocab];
            u64 k = 0;
            for (u64 v = 1; v < vocab; ++v)
                if (l[v] > l[k]) k = v;
            if (n == 0 && t == 0) CHECK(k == 1 && l[3] == l[1], "the tie at the top goes to the first symbol");
            double top = l[k], sum = 0.0;
            for (u64 v = 0; v < vocab; ++v) sum += exp(l[v] - top);
            auto p = [&](u64 v) { return exp(l[v] - top) / sum; };
            for (u64 j = 0; j < d; ++j) {
                const double* a = &tangents[(n * d + j) * m + t * vocab];
                const double* row = &x[(n * d + j) * w];
                double spread = 0.0;
                for (u64 u = 0; u < vocab; ++u)
                    if (u != k) spread += p(u) * (a[k] - a[u]);
                for (u64 v = 0; v < vocab; ++v)
                    CHECK(same_bits(row[t * vocab + v], p(v) * ((a[v] - a[k]) + spread)), "LES factor bits %llu %llu %llu", n, j, v);
                CHECK(same_bits(row[m + t], (a[k] - spread) * exp(-(top + log(sum)))), "LES factor bits of the normaliser");
            }
        }
}

// No tangents (d = 0): the factor has no rows, and the kernel writes
// nothing (a guard before any row of a point is addressed).
static void check_les_factor_without_tangents() {
    u64 points = 3, seq_len = 2, vocab = 4, m = seq_len * vocab;
    auto logits = values(points * m);
    std::vector<double> x(points * (m + seq_len), 7.0);
    launch([&] { les_factor_f64(logits.data(), nullptr, points, seq_len, vocab, 0, x.data()); });
    for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == 7.0, "LES factor with d = 0 wrote %zu", i);
}

// Peaked softmaxes: position t has logits (z_t, 0) and tangent (1, 0), so
// column t V of the factor is p_0 (1 - s) = sigma (1 - sigma) with
// 1 - sigma = 1 / (1 + e^z), which the plain difference 1 - s rounds to 0
// from a logit spread of about 37 on.
static void check_les_factor_peaked() {
    const double spreads[] = {5.0, 20.0, 37.0, 45.0, 120.0, 300.0};
    u64 seq_len = 6, vocab = 2, d = 1, m = seq_len * vocab, w = m + seq_len;
    std::vector<double> logits(m, 0.0), tangents(m, 0.0), x(w);
    for (u64 t = 0; t < seq_len; ++t) {
        logits[t * vocab] = spreads[t];
        tangents[t * vocab] = 1.0;
    }
    launch([&] { les_factor_f64(logits.data(), tangents.data(), 1, seq_len, vocab, d, x.data()); });
    for (u64 t = 0; t < seq_len; ++t) {
        double q = 1.0 / (1.0 + std::exp(spreads[t])), want = (1.0 - q) * q;
        CHECK(std::fabs(x[t * vocab] - want) <= 1e-14 * want, "LES factor of a peaked softmax");
        CHECK(std::fabs(x[t * vocab + 1] + want) <= 1e-14 * want, "LES factor of a peaked softmax");
    }
}

static void check_counts() {
    u64 points = 4, verts = 5, len = 9, slots = 3, slot = 1;
    auto z = values(points * verts * len);
    // Point 0: every vertex equal to the first, so nothing changes.
    for (u64 v = 1; v < verts; ++v)
        for (u64 u = 0; u < len; ++u) z[v * len + u] = z[u];
    std::vector<unsigned> counts(points * slots, 0);
    launch([&] { sign_changes_f64(z.data(), points, verts, len, counts.data(), slot, slots); });
    for (u64 n = 0; n < points; ++n) {
        unsigned want = 0;
        for (u64 u = 0; u < len; ++u) {
            bool changed = false;
            for (u64 v = 1; v < verts; ++v)
                changed |= sign(z[(n * verts + v) * len + u]) != sign(z[n * verts * len + u]);
            want += changed;
        }
        CHECK(counts[n * slots + slot] == want, "sign changes of point %llu: %u vs %u", n, counts[n * slots + slot], want);
        CHECK(counts[n * slots] == 0 && counts[n * slots + 2] == 0, "other slots untouched");
    }
    CHECK(counts[slot] == 0, "constant signs count nothing");

    u64 stride = 12, offset = 3;
    std::vector<unsigned char> choices(points * verts * stride);
    for (auto& c : choices) c = rng() % 3;
    std::vector<unsigned> ccounts(points * slots, 0);
    launch([&] { choice_changes_u8(choices.data(), points, verts, stride, offset, len, ccounts.data(), 0, slots); });
    for (u64 n = 0; n < points; ++n) {
        unsigned want = 0;
        for (u64 u = 0; u < len; ++u) {
            bool changed = false;
            for (u64 v = 1; v < verts; ++v)
                changed |= choices[(n * verts + v) * stride + offset + u] != choices[n * verts * stride + offset + u];
            want += changed;
        }
        CHECK(ccounts[n * slots] == want, "choice changes of point %llu", n);
    }
}

static void check_reverse() {
    u64 points = 3, m = 4;
    std::vector<double> g(points * m * m, 5.0);
    launch([&] { eye_blocks_f64(g.data(), points, m); });
    for (u64 p = 0; p < points; ++p)
        for (u64 i = 0; i < m; ++i)
            for (u64 j = 0; j < m; ++j) CHECK(g[(p * m + i) * m + j] == (i == j ? 1.0 : 0.0), "eye");

    u64 block = 2, rows = points * block, len = 7, stride = 9, offset = 1;
    auto h = values(rows * len);
    std::vector<unsigned char> choices(points * stride);
    for (auto& c : choices) c = rng() % 2;
    auto want = h;
    double s0 = -0.5, s1 = 1.0;
    for (u64 r = 0; r < rows; ++r)
        for (u64 u = 0; u < len; ++u)
            want[r * len + u] = h[r * len + u] * (choices[(r / block) * stride + offset + u] ? s1 : s0);
    launch([&] { mask_columns_f64(h.data(), rows, len, block, choices.data(), stride, offset, s0, s1); });
    for (size_t i = 0; i < h.size(); ++i) CHECK(same_bits(h[i], want[i]), "mask %zu", i);

    // Max units with overlapping windows: the pull-back adds in unit order.
    const unsigned N = 0xffffffffu;
    std::vector<unsigned> cand = {0, 1, 1, 2, 2, N};
    u64 units = 3, width = 2, in_len = 3;
    auto gu = values(rows * units);
    std::vector<unsigned char> chosen(points * stride);
    for (auto& c : chosen) c = rng() % 2;
    std::vector<double> out(rows * in_len, 0.0), want_out(rows * in_len, 0.0);
    for (u64 r = 0; r < rows; ++r)
        for (u64 j = 0; j < units; ++j) {
            unsigned t = chosen[(r / block) * stride + offset + j];
            unsigned src = cand[j * width + t];
            if (src != N) want_out[r * in_len + src] += gu[r * units + j];
        }
    launch([&] { max_scatter_f64(gu.data(), rows, units, block, cand.data(), width, chosen.data(), stride, offset, out.data(), in_len); });
    for (size_t i = 0; i < out.size(); ++i) CHECK(same_bits(out[i], want_out[i]), "max scatter %zu", i);

    // Forward mode: each unit copies the tangent of its chosen input.
    chosen[offset + 2] = 1;  // point 0's third unit picks padding
    auto t = values(rows * in_len);
    std::vector<double> gathered(rows * units, 7.0);
    launch([&] { max_gather_f64(t.data(), rows, in_len, units, block, cand.data(), width, chosen.data(), stride, offset, gathered.data()); });
    for (u64 r = 0; r < rows; ++r)
        for (u64 j = 0; j < units; ++j) {
            unsigned src = cand[j * width + chosen[(r / block) * stride + offset + j]];
            double want = src == N ? 0.0 : t[r * in_len + src];
            CHECK(same_bits(gathered[r * units + j], want), "max gather %llu %llu", r, j);
        }
    CHECK(gathered[2] == 0.0, "a padding choice gathers zero");
}

int main() {
    check_add_bias();
    check_two_piece();
    check_max_units();
    check_neighbourhood();
    check_transpose_blocks();
    check_les_factor();
    check_les_factor_peaked();
    check_les_factor_bits();
    check_les_factor_without_tangents();
    check_counts();
    check_reverse();
    if (failures) {
        std::printf("%d kernel checks failed\n", failures);
        return 1;
    }
    std::printf("all host-emulated kernel checks passed\n");
    return 0;
}
