// The GEMM's blocked loop nests (gemm.h), instantiated per SIMD level
// (gemm_*.cc, each compiled with its own -m flags) on GCC vector extensions
// of kLanes lanes. Register tile: kMr rows x 2 vectors of C (AVX-512: 12 x 2
// = 24 of the 32 registers accumulate; AVX2: 6 x 2 of 16), accumulated over
// one k block; B's panel [kb, 2 kLanes] stays in L1, A's block in L2.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "quant/gemm.h"

namespace glmq::gemm::impl {

// How a tile's sums over one k block reach C.
enum class Update { kSub, kStore, kAdd };

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

  // C[mr, kNr] -= (or =, +=) A B over one k block, from packed panels:
  // ap[p * kMr + i] (A's rows of the tile, column p) and bp[p * kNr + j] (B's
  // kNr columns). Per element the same sum as the reference: p ascending,
  // then subtracted (added).
  template <int mr, Update U = Update::kSub>
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
      V c0 = acc[i][0], c1 = acc[i][1];
      if constexpr (U == Update::kSub) {
        c0 = Load(c + i * ldc) - c0;
        c1 = Load(c + i * ldc + kLanes) - c1;
      } else if constexpr (U == Update::kAdd) {
        c0 += Load(c + i * ldc);
        c1 += Load(c + i * ldc + kLanes);
      }
      std::memcpy(c + i * ldc, &c0, sizeof(V));
      std::memcpy(c + i * ldc + kLanes, &c1, sizeof(V));
    }
  }

  // Tile<mr> for a run-time mr in [1, kMr].
  template <Update U, int mr = kMr>
  static void TileN(int n, int64_t k, const T* ap, const T* bp, T* c, int64_t ldc) {
    if constexpr (mr > 1) {
      if (n < mr) return TileN<U, mr - 1>(n, k, ap, bp, c, ldc);
    }
    Tile<mr, U>(k, ap, bp, c, ldc);
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

  // ---- MatMulWeightsT: y[t, r] = x[t, :] . W[r, :] (T = float) ----------

  // Shuffle masks: integers of T's width (a dependent type, so that GCC
  // applies the vector attribute per instantiation).
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> MaskInt;
  typedef MaskInt M __attribute__((vector_size(kLanes * sizeof(MaskInt))));
  static constexpr int64_t kMcWeights = 40 * kMr;  // tokens per A block (480 KiB, L2)

  // The butterfly masks of Transpose: stage b pairs rows i and i + b.
  static M LoMask(int b) {
    M m{};
    for (int j = 0; j < kLanes; ++j) m[j] = (j & b) ? kLanes + j - b : j;
    return m;
  }
  static M HiMask(int b) {
    M m{};
    for (int j = 0; j < kLanes; ++j) m[j] = (j & b) ? kLanes + j : j + b;
    return m;
  }

  // Lane j of the result: lane m[j] of a:c (GCC's __builtin_shuffle; clang,
  // which builds the fuzz and sanitizer trees, has no two-vector shuffle
  // with a mask operand, and gets the same lanes from a loop).
  static V Shuffle2(V a, V c, M m) {
#if defined(__clang__)
    V r;
    for (int j = 0; j < kLanes; ++j) r[j] = m[j] < kLanes ? a[m[j]] : c[m[j] - kLanes];
    return r;
#else
    return __builtin_shuffle(a, c, m);
#endif
  }

  // In place: v[i] = lanes of row i -> v[j] = lane j of every row.
  static void Transpose(V* v) {
#pragma GCC unroll 4
    for (int b = 1; b < kLanes; b *= 2) {
      const M lo = LoMask(b), hi = HiMask(b);
#pragma GCC unroll 16
      for (int i = 0; i < kLanes; ++i) {
        if (i & b) continue;
        const V a = v[i], c = v[i + b];
        v[i] = Shuffle2(a, c, lo);
        v[i + b] = Shuffle2(a, c, hi);
      }
    }
  }

  // bp[p * kNr + jj] = W[j + jj, p0 + p] as f32 for jj < kNr (0 for rows past
  // r1), p < kb: kLanes x kLanes blocks loaded by WL::Load, transposed.
  template <class WL, DType D>
  static void PackW(const void* w, int64_t k, int64_t j, int64_t r1, int64_t p0, int64_t kb,
                    T* bp) {
    for (int h = 0; h < 2; ++h) {
      for (int64_t pc = 0; pc < kb; pc += kLanes) {
        const int64_t np = std::min<int64_t>(kLanes, kb - pc);
        V v[kLanes];
        for (int i = 0; i < kLanes; ++i) {
          const int64_t row = j + h * kLanes + i;
          if (row >= r1) {
            v[i] = V{};
          } else if (np == kLanes) {
            v[i] = WL::template Load<D>(w, row * k + p0 + pc);
          } else {
            T tmp[kLanes] = {};
            for (int64_t q = 0; q < np; ++q) tmp[q] = WL::template LoadOne<D>(w, row * k + p0 + pc + q);
            std::memcpy(&v[i], tmp, sizeof(V));
          }
        }
        Transpose(v);
        for (int64_t q = 0; q < np; ++q)
          std::memcpy(bp + (pc + q) * kNr + h * kLanes, &v[q], sizeof(V));
      }
    }
  }

  // Hints the stored weights of the panel at rows [j, j + kNr) of W's k block
  // [p0, p0 + kb) into L2 while the current panel computes: its rows are a
  // row's bytes apart, too many streams for the hardware prefetchers.
  template <DType D>
  static void PrefetchW(const void* w, int64_t k, int64_t j, int64_t r1, int64_t p0, int64_t kb) {
    constexpr int64_t es = D == DType::kF32 ? 4 : 2;
    const char* base = static_cast<const char*>(w);
    for (int64_t r = j; r < std::min(j + kNr, r1); ++r)
      for (int64_t b = 0; b < kb * es; b += 64) __builtin_prefetch(base + (r * k + p0) * es + b, 0, 2);
  }

  // A's block of mb rows (x at `a`, leading dimension lda) x kb columns in
  // panels of kMr rows: ap[(r / kMr) kMr kb + p kMr + r % kMr], zero-padded.
  static void PackA(const T* a, int64_t lda, int64_t mb, int64_t kb, T* apack) {
    for (int64_t r0 = 0; r0 < mb; r0 += kMr) {
      T* dst = apack + r0 * kb;
      const int64_t rows = std::min<int64_t>(kMr, mb - r0);
      for (int64_t p = 0; p < kb; ++p)
        for (int64_t i = 0; i < kMr; ++i) dst[p * kMr + i] = i < rows ? a[(r0 + i) * lda + p] : T{0};
    }
  }

  // One tile of C at c (mr rows, nj <= kNr valid columns): stored on the
  // first k block, added after it; a partial tile goes through `tmp`.
  static void TileWeights(int mr, int64_t nj, bool first, int64_t kb, const T* ap, const T* bp,
                          T* c, int64_t ldc, T* tmp) {
    if (nj == kNr) {
      if (first) return TileN<Update::kStore>(mr, kb, ap, bp, c, ldc);
      return TileN<Update::kAdd>(mr, kb, ap, bp, c, ldc);
    }
    TileN<Update::kStore>(mr, kb, ap, bp, tmp, kNr);
    for (int i = 0; i < mr; ++i)
      for (int64_t jj = 0; jj < nj; ++jj)
        c[i * ldc + jj] = first ? tmp[i * kNr + jj] : c[i * ldc + jj] + tmp[i * kNr + jj];
  }

  template <class WL, DType D>
  static void RunWeights(int64_t m, int64_t k, const T* x, int64_t ldx, const void* w, int64_t r0,
                         int64_t r1, T* y, int64_t ldy) {
    thread_local std::vector<T> a_buf, b_buf;
    T tmp[kMr * kNr];
    const int64_t kc = std::min(kGemmKc, k);
    T* bpack = Buffer(b_buf, static_cast<size_t>(kNr * kc));
    T* apack = Buffer(a_buf, static_cast<size_t>((std::min(kMcWeights, m) + kMr) * kc));
    for (int64_t p0 = 0; p0 < k; p0 += kGemmKc) {
      const int64_t kb = std::min(kGemmKc, k - p0);
      for (int64_t i0 = 0; i0 < m; i0 += kMcWeights) {
        const int64_t mb = std::min(kMcWeights, m - i0);
        PackA(x + i0 * ldx + p0, ldx, mb, kb, apack);
        for (int64_t j = r0; j < r1; j += kNr) {
          // W's panel [kb, kNr], converted once, stays in L1 for the A block.
          PackW<WL, D>(w, k, j, r1, p0, kb, bpack);
          PrefetchW<D>(w, k, j + kNr, r1, p0, kb);
          const int64_t nj = std::min<int64_t>(kNr, r1 - j);
          for (int64_t i = 0; i < mb; i += kMr) {
            const int mr = static_cast<int>(std::min<int64_t>(kMr, mb - i));
            T* c = y + (i0 + i) * ldy + j;
            // The next tile's rows of y: a token's stride apart, each a miss.
            for (int64_t ii = 0; ii < std::min<int64_t>(kMr, mb - i - kMr); ++ii) {
              __builtin_prefetch(c + (kMr + ii) * ldy, 1);
              __builtin_prefetch(c + (kMr + ii) * ldy + kNr - 1, 1);
            }
            TileWeights(mr, nj, p0 == 0, kb, apack + i * kb, bpack, c, ldy, tmp);
          }
        }
      }
    }
  }

  template <class WL>
  static void RunWeights(int64_t m, int64_t k, const T* x, int64_t ldx, DType wt, const void* w,
                         int64_t r0, int64_t r1, T* y, int64_t ldy) {
    if (wt == DType::kBF16) return RunWeights<WL, DType::kBF16>(m, k, x, ldx, w, r0, r1, y, ldy);
    if (wt == DType::kF16) return RunWeights<WL, DType::kF16>(m, k, x, ldx, w, r0, r1, y, ldy);
    RunWeights<WL, DType::kF32>(m, k, x, ldx, w, r0, r1, y, ldy);
  }
};

}  // namespace glmq::gemm::impl
