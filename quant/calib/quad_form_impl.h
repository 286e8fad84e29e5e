// QuadForm's loops (quad_form.h), instantiated per SIMD level
// (quad_form_avx2.cc, quad_form_avx512.cc, each compiled with its own -m
// flags) on GCC vector extensions of kLanes doubles.
#pragma once

#include <cstdint>
#include <cstring>

namespace glmq::calib::quad_impl {

template <typename T, int kLanes>
struct Kernel {
  typedef T V __attribute__((vector_size(kLanes * sizeof(T))));

  static V Load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
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

};

}  // namespace glmq::calib::quad_impl
