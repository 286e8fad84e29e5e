// SubMatMul's blocked loop nest, instantiated per SIMD level (gemm_*.cc, each
// compiled with its own -m flags) on GCC vector extensions of kLanes lanes.
// Register tile: kMr rows x 2 vectors of C (AVX-512: 12 x 2 = 24 of the 32
// registers accumulate; AVX2: 6 x 2 of 16), accumulated over one k block.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/calib/gemm.h"

namespace glmq::calib::gemm_impl {

template <typename T, int kLanes, int kMr>
struct Kernel {
  typedef T V __attribute__((vector_size(kLanes * sizeof(T))));
  static constexpr int kNr = 2 * kLanes;  // C columns per register tile
  static constexpr int64_t kMc = 128;     // rows of A per cache block

  static V Load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }

  // C[mr, kNr] -= A B over one k block, from packed panels: ap[p * kMr + i]
  // (A's rows of the tile, column p) and bp[p * kNr + j] (B's kNr columns).
  // Per element the same sum as the reference: p ascending, then subtracted.
  template <int mr>
  static void Tile(int64_t k, const T* ap, const T* bp, T* c, int64_t ldc) {
    V acc[mr][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; ++i) acc[i][0] = acc[i][1] = V{};
    for (int64_t p = 0; p < k; ++p) {
      const V b0 = Load(bp + p * kNr), b1 = Load(bp + p * kNr + kLanes);
      const T* a = ap + p * kMr;
#pragma GCC unroll 16
      for (int i = 0; i < mr; ++i) {
        const T av = a[i];
        acc[i][0] += av * b0;
        acc[i][1] += av * b1;
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; ++i) {
      V c0 = Load(c + i * ldc), c1 = Load(c + i * ldc + kLanes);
      c0 -= acc[i][0];
      c1 -= acc[i][1];
      std::memcpy(c + i * ldc, &c0, sizeof(V));
      std::memcpy(c + i * ldc + kLanes, &c1, sizeof(V));
    }
  }

  // Columns [j0, n) that do not fill a register tile: plain dot products.
  static void Tail(int64_t m, int64_t j0, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                   int64_t ldb, T* c, int64_t ldc) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = j0; j < n; ++j) {
        T s = 0;
        for (int64_t p = 0; p < k; ++p) s += a[i * lda + p] * b[p * ldb + j];
        c[i * ldc + j] -= s;
      }
  }

  // QuadForm (T = double) for a symmetric G, in column chunks I of 4 vectors
  // held in registers: v_I = 2 sum_{j < I} d_j G[j, I] + sum_{j in I} d_j
  // G[j, I], e = sum_i d_i v_i. Rows j below the chunk are skipped (their
  // terms are the mirrored ones counted twice): (n^2 + n 4 kLanes) / 2
  // multiply-adds instead of n^2.
  static double Quad(const T* g, int64_t ld, const float* d, int64_t n, T* v) {
    constexpr int64_t kC = 4 * kLanes;
    int64_t i0 = 0;
    for (; i0 + kC <= n; i0 += kC) {
      V a0{}, a1{}, a2{}, a3{};
      for (int64_t j = 0; j < i0 + kC; ++j) {
        if (j == i0) {  // rows above the chunk counted twice
          a0 += a0;
          a1 += a1;
          a2 += a2;
          a3 += a3;
        }
        if (d[j] == 0.f) continue;
        const T dj = d[j];
        const T* gj = g + j * ld + i0;
        a0 += dj * Load(gj);
        a1 += dj * Load(gj + kLanes);
        a2 += dj * Load(gj + 2 * kLanes);
        a3 += dj * Load(gj + 3 * kLanes);
      }
      std::memcpy(v + i0, &a0, sizeof(V));
      std::memcpy(v + i0 + kLanes, &a1, sizeof(V));
      std::memcpy(v + i0 + 2 * kLanes, &a2, sizeof(V));
      std::memcpy(v + i0 + 3 * kLanes, &a3, sizeof(V));
    }
    return QuadFinish(g, ld, d, n, i0, v);
  }

  // Quad's last, partial chunk (columns i0 .. n, the same way) and e.
  static T QuadFinish(const T* g, int64_t ld, const float* d, int64_t n, int64_t i0, T* v) {
    for (int64_t i = i0; i < n; ++i) {
      T above = 0, within = 0;
      for (int64_t j = 0; j < i0; ++j) above += static_cast<T>(d[j]) * g[j * ld + i];
      for (int64_t j = i0; j < n; ++j) within += static_cast<T>(d[j]) * g[j * ld + i];
      v[i] = 2 * above + within;
    }
    T e = 0;
    for (int64_t i = 0; i < n; ++i) e += d[i] * v[i];
    return e;
  }

  // Quad of k vectors d + c n (e[c]), kB at a time: their accumulators side
  // by side, so that each vector of G loaded feeds kB vectors' multiply-adds.
  // Per vector the multiply-adds and their order are Quad's, except that a
  // zero d_j adds 0 G[j, I] rather than being skipped, which leaves every sum
  // unchanged (up to the sign of a zero). v: scratch of kB n.
  template <int kB>
  static void QuadMany(const T* g, int64_t ld, const float* d, int64_t n, int64_t k, T* v, T* e) {
    constexpr int64_t kC = 4 * kLanes;
    int64_t c0 = 0;
    for (; c0 + kB <= k; c0 += kB) {
      const float* dc = d + c0 * n;
      int64_t i0 = 0;
      for (; i0 + kC <= n; i0 += kC) {
        V a[kB][4] = {};
        for (int64_t j = 0; j < i0 + kC; ++j) {
          if (j == i0)  // rows above the chunk counted twice
            for (int b = 0; b < kB; ++b)
              for (int u = 0; u < 4; ++u) a[b][u] += a[b][u];
          const T* gj = g + j * ld + i0;
          const V g0 = Load(gj), g1 = Load(gj + kLanes), g2 = Load(gj + 2 * kLanes),
                  g3 = Load(gj + 3 * kLanes);
          for (int b = 0; b < kB; ++b) {
            const T dj = dc[b * n + j];
            a[b][0] += dj * g0;
            a[b][1] += dj * g1;
            a[b][2] += dj * g2;
            a[b][3] += dj * g3;
          }
        }
        for (int b = 0; b < kB; ++b)
          for (int u = 0; u < 4; ++u)
            std::memcpy(v + b * n + i0 + u * kLanes, &a[b][u], sizeof(V));
      }
      for (int b = 0; b < kB; ++b) e[c0 + b] = QuadFinish(g, ld, dc + b * n, n, i0, v + b * n);
    }
    for (; c0 < k; ++c0) e[c0] = Quad(g, ld, d + c0 * n, n, v);
  }

  // Packing: A's block [mb, kb] into kMr-row panels (column-major within a
  // panel), B's [kb, kNr] panel by panel, so that the tile reads both
  // sequentially (B rows are ldb apart: unpacked, every p touched another
  // page). Buffers are per thread, 64-byte aligned.
  static T* Buffer(std::vector<T>& v, size_t n) {
    if (v.size() < n + 64 / sizeof(T)) v.resize(n + 64 / sizeof(T));
    const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
    return reinterpret_cast<T*>((p + 63) & ~uintptr_t{63});
  }

  static void Run(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
                  T* c, int64_t ldc) {
    thread_local std::vector<T> a_buf, b_buf;
    const int64_t n_tiles = n / kNr * kNr;
    const int64_t kc = std::min(kGemmKc, k);
    T* bpack = Buffer(b_buf, static_cast<size_t>(kNr * kc));
    T* apack = Buffer(a_buf, static_cast<size_t>((kMc + kMr) * kc));
    for (int64_t p0 = 0; p0 < k; p0 += kGemmKc) {
      const int64_t kb = std::min(kGemmKc, k - p0);
      const T* bb = b + p0 * ldb;
      for (int64_t i0 = 0; i0 < m; i0 += kMc) {
        const int64_t mb = std::min(kMc, m - i0);
        const T* ab = a + i0 * lda + p0;
        T* cb = c + i0 * ldc;
        for (int64_t r0 = 0; r0 < mb; r0 += kMr) {
          T* dst = apack + r0 * kb;
          const int64_t rows = std::min<int64_t>(kMr, mb - r0);
          for (int64_t p = 0; p < kb; ++p)
            for (int64_t i = 0; i < kMr; ++i)
              dst[p * kMr + i] = i < rows ? ab[(r0 + i) * lda + p] : T{0};
        }
        // The last rows (< kMr, all in the last panel, at offset r % kMr).
        auto panel = [&](int64_t r) { return apack + (r / kMr * kMr) * kb + r % kMr; };
        for (int64_t j = 0; j < n_tiles; j += kNr) {
          // B's panel [kb, kNr], packed, stays in L1 for all rows of the block.
          for (int64_t p = 0; p < kb; ++p)
            std::memcpy(bpack + p * kNr, bb + p * ldb + j, sizeof(T) * kNr);
          int64_t i = 0;
          for (; i + kMr <= mb; i += kMr) Tile<kMr>(kb, panel(i), bpack, cb + i * ldc + j, ldc);
          for (; i + 4 <= mb; i += 4) Tile<4>(kb, panel(i), bpack, cb + i * ldc + j, ldc);
          for (; i < mb; ++i) Tile<1>(kb, panel(i), bpack, cb + i * ldc + j, ldc);
        }
        if (n_tiles < n) Tail(mb, n_tiles, n, kb, ab, lda, bb, ldb, cb, ldc);
      }
    }
  }
};

}  // namespace glmq::calib::gemm_impl
