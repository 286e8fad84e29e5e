#include "runtime/vision/vision_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace glmq::vision {
namespace {

// Below this many values an OpenMP fork/join costs more than it saves.
constexpr int64_t kMinParallelValues = 1 << 16;

bool Parallel(int64_t values, int n_threads) {
  return n_threads > 1 && values >= kMinParallelValues;
}

void LayerNormRow(const float* x, int64_t dim, const float* weight, const float* bias, float eps,
                  float* out) {
  float sum = 0.f;
  for (int64_t i = 0; i < dim; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(dim);
  float ss = 0.f;
  for (int64_t i = 0; i < dim; ++i) ss += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
  for (int64_t i = 0; i < dim; ++i) {
    const float v = (x[i] - mean) * inv * weight[i];
    out[i] = bias != nullptr ? v + bias[i] : v;
  }
}

// Cubic convolution kernel weights (A = -0.75) of the 4 taps at offsets
// -1, 0, 1, 2 from floor(x), t = x - floor(x); torch's get_cubic_upsample_coefficients.
void CubicCoefficients(float t, float c[4]) {
  constexpr float A = -0.75f;
  auto near = [](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };       // |x| <= 1
  auto far = [](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
  c[0] = far(t + 1.0f);
  c[1] = near(t);
  c[2] = near(1.0f - t);
  c[3] = far(2.0f - t);
}

// grid_sample's source coordinate of patch index i of n over a table of
// `size` rows or columns (align_corners = False), in torch's f32 steps.
float SourceCoord(int32_t i, int64_t n, int64_t size) {
  const float norm = (static_cast<float>(i) + 0.5f) / static_cast<float>(n) * 2.0f - 1.0f;
  return (norm + 1.0f) * (static_cast<float>(size) / 2.0f) - 0.5f;
}

}  // namespace

void LayerNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, const float* bias,
               float eps, float* out, int n_threads) {
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_rows * dim, n_threads))
  for (int64_t r = 0; r < n_rows; ++r)
    LayerNormRow(x + r * dim, dim, weight, bias, eps, out + r * dim);
}

void RmsNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, float eps,
             float* out, int n_threads) {
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_rows * dim, n_threads))
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    float ss = 0.f;
    for (int64_t i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) o[i] = weight[i] * (xr[i] * inv);
  }
}

void AddLayerNormed(float* x, float* y, const float* y_bias, int64_t n_rows, int64_t dim,
                    const float* weight, const float* bias, float eps, int n_threads) {
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_rows * dim, n_threads))
  for (int64_t r = 0; r < n_rows; ++r) {
    float* yr = y + r * dim;
    if (y_bias != nullptr) {
      for (int64_t i = 0; i < dim; ++i) yr[i] += y_bias[i];
    }
    LayerNormRow(yr, dim, weight, bias, eps, yr);
    float* xr = x + r * dim;
    for (int64_t i = 0; i < dim; ++i) xr[i] += yr[i];
  }
}

void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim, int n_threads) {
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_rows * dim, n_threads))
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] += bias[i];
  }
}

void Add(float* x, const float* y, int64_t n, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static) if (Parallel(n, n_threads))
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void BiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim, int n_threads) {
  const float inv_sqrt2 = static_cast<float>(1.0 / std::sqrt(2.0));
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_rows * dim, n_threads))
  for (int64_t r = 0; r < n_rows; ++r) {
    float* yr = y + r * dim;
    for (int64_t i = 0; i < dim; ++i) {
      const float v = bias != nullptr ? yr[i] + bias[i] : yr[i];
      yr[i] = 0.5f * v * (1.0f + std::erf(v * inv_sqrt2));
    }
  }
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static) if (Parallel(n, n_threads))
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

std::vector<float> Rope2dTable(const int32_t* row, const int32_t* col, int64_t n_rows,
                               int64_t head_dim, double theta) {
  const int64_t half = head_dim / 2, quarter = head_dim / 4;
  std::vector<float> inv_freq(quarter);
  for (int64_t k = 0; k < quarter; ++k) {
    const float e = static_cast<float>(2 * k) / static_cast<float>(half);
    inv_freq[k] = 1.0f / std::pow(static_cast<float>(theta), e);
  }
  std::vector<float> cs(n_rows * head_dim);  // [n_rows, head_dim]: half cos, half sin
  for (int64_t t = 0; t < n_rows; ++t) {
    float* c = cs.data() + t * head_dim;
    for (int64_t d = 0; d < half; ++d) {
      const int32_t pos = d < quarter ? row[t] : col[t];
      const float angle = static_cast<float>(pos) * inv_freq[d % quarter];
      c[d] = std::cos(angle);
      c[half + d] = std::sin(angle);
    }
  }
  return cs;
}

void Rope2dNeoxTable(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads,
                     int64_t head_dim, const float* cos_sin, int n_threads) {
  const int64_t half = head_dim / 2;
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_rows * n_heads * head_dim, n_threads))
  for (int64_t t = 0; t < n_rows; ++t) {
    const float* cs = cos_sin + t * head_dim;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + t * row_stride + h * head_dim;
      for (int64_t d = 0; d < half; ++d) {
        const float a = v[d], b = v[d + half];
        v[d] = a * cs[d] - b * cs[half + d];
        v[d + half] = b * cs[d] + a * cs[half + d];
      }
    }
  }
}

void Rope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads, int64_t head_dim,
                const int32_t* row, const int32_t* col, double theta, int n_threads) {
  const std::vector<float> cs = Rope2dTable(row, col, n_rows, head_dim, theta);
  Rope2dNeoxTable(x, row_stride, n_rows, n_heads, head_dim, cs.data(), n_threads);
}

void BicubicResample(const float* table, int64_t table_h, int64_t table_w, int64_t dim,
                     int64_t grid_h, int64_t grid_w, const int32_t* row, const int32_t* col,
                     int64_t n, float* out, int n_threads) {
#pragma omp parallel num_threads(n_threads) if (Parallel(n * dim * 16, n_threads))
  {
    std::vector<float> line(dim);  // [dim] one tap row interpolated along x
#pragma omp for schedule(static)
    for (int64_t t = 0; t < n; ++t) {
      const float x = SourceCoord(col[t], grid_w, table_w);
      const float y = SourceCoord(row[t], grid_h, table_h);
      const float fx = std::floor(x), fy = std::floor(y);
      float cx[4], cy[4];
      CubicCoefficients(x - fx, cx);
      CubicCoefficients(y - fy, cy);
      int64_t xs[4];
      for (int j = 0; j < 4; ++j) {
        xs[j] = std::clamp<int64_t>(static_cast<int64_t>(fx) - 1 + j, 0, table_w - 1);
      }
      float* o = out + t * dim;
      std::fill(o, o + dim, 0.f);
      for (int i = 0; i < 4; ++i) {
        const int64_t ys = std::clamp<int64_t>(static_cast<int64_t>(fy) - 1 + i, 0, table_h - 1);
        const float* r = table + ys * table_w * dim;
        for (int64_t d = 0; d < dim; ++d) {
          line[d] = r[xs[0] * dim + d] * cx[0] + r[xs[1] * dim + d] * cx[1] +
                    r[xs[2] * dim + d] * cx[2] + r[xs[3] * dim + d] * cx[3];
        }
        for (int64_t d = 0; d < dim; ++d) o[d] += line[d] * cy[i];
      }
    }
  }
}

void ImageToPatches(const float* image, int64_t channels, int64_t height, int64_t width,
                    int64_t patch, float* out) {
  const int64_t gw = width / patch, gh = height / patch, cols = channels * patch * patch;
  for (int64_t py = 0; py < gh; ++py) {
    for (int64_t px = 0; px < gw; ++px) {
      float* o = out + (py * gw + px) * cols;
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t i = 0; i < patch; ++i) {
          const float* src = image + (c * height + py * patch + i) * width + px * patch;
          std::copy(src, src + patch, o + (c * patch + i) * patch);
        }
      }
    }
  }
}

void GatherWindows(const float* x, int64_t dim, const int64_t* src_rows, int64_t n_windows,
                   int64_t merge, float* out, int n_threads) {
  const int64_t m2 = merge * merge;
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (Parallel(n_windows * m2 * dim, n_threads))
  for (int64_t w = 0; w < n_windows; ++w) {
    float* o = out + w * dim * m2;
    for (int64_t k = 0; k < m2; ++k) {
      const float* xr = x + src_rows[w * m2 + k] * dim;
      for (int64_t c = 0; c < dim; ++c) o[c * m2 + k] = xr[c];
    }
  }
}

}  // namespace glmq::vision
