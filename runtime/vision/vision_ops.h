// The f32 element-wise and row-wise operations of the vision towers (the
// linear layers go through Backend::MatMul, attention is in attention.h).
// Plain loops with f32 accumulation in a fixed order: each function is its
// own reference. Rows are split between `n_threads` OpenMP threads when the
// work is large enough (the result does not depend on the thread count).
// Activations are row-major [n_rows, dim].
#pragma once

#include <cstdint>
#include <vector>

namespace glmq::vision {

// out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias, mean and (biased)
// variance over the row, two passes in f32. out may alias x; bias may be null.
void LayerNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, const float* bias,
               float eps, float* out, int n_threads);

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight. out may alias x.
void RmsNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, float eps,
             float* out, int n_threads);

// x[r, i] += LayerNorm(y[r] + y_bias)[i]: the EVA2-CLIP post-norm residual
// (y_bias may be null). y is overwritten with the normalized branch output.
void AddLayerNormed(float* x, float* y, const float* y_bias, int64_t n_rows, int64_t dim,
                    const float* weight, const float* bias, float eps, int n_threads);

// y[r, i] += bias[i].
void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim, int n_threads);

// x[i] += y[i] for i < n.
void Add(float* x, const float* y, int64_t n, int n_threads);

// y[r, i] = gelu(y[r, i] + bias[i]) with the exact (erf) GELU
// 0.5 x (1 + erf(x / sqrt(2))); bias may be null.
void BiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim, int n_threads);

// out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up. out may
// alias gate or up.
void SiluMul(const float* gate, const float* up, int64_t n, float* out, int n_threads);

// 2-D rotary embedding of GLM-4.1V's ViT on n_heads heads per row, applied
// NeoX-style (rotate_half): with half = head_dim / 2 and quarter = head_dim / 4,
// dim d < half pairs with d + half and rotates by angle[d], where
// angle[k] = row[t] * inv_freq[k], angle[quarter + k] = col[t] * inv_freq[k]
// for k < quarter, inv_freq[k] = theta^(-2k / half) (f32, as torch builds it).
// x: rows of `row_stride` floats, head h at x[t * row_stride + h * head_dim].
void Rope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads, int64_t head_dim,
                const int32_t* row, const int32_t* col, double theta, int n_threads);

// Rope2dNeox in two steps (the towers build the table once per image and
// rotate q and k of every block with it): Rope2dTable returns [n_rows,
// head_dim] rows of cos(angle[d]) for d < half, then sin(angle[d]);
// Rope2dNeoxTable applies such rows.
std::vector<float> Rope2dTable(const int32_t* row, const int32_t* col, int64_t n_rows,
                               int64_t head_dim, double theta);
void Rope2dNeoxTable(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads,
                     int64_t head_dim, const float* cos_sin, int n_threads);

// Resamples a [table_h, table_w, dim] table (row-major, f32) at the centres
// of a grid_h x grid_w patch grid with torch's
// F.grid_sample(mode="bicubic", align_corners=False, padding_mode="border"):
// patch (r, c) samples the source point x = ((c + 0.5) / grid_w * 2 - 1 + 1)
// * table_w / 2 - 0.5 (y likewise, f32 steps as torch), from 4 x 4 taps of the
// cubic convolution kernel with A = -0.75; taps outside the table are clamped
// to its border. out[t] = sample at (row[t], col[t]); out: [n, dim].
void BicubicResample(const float* table, int64_t table_h, int64_t table_w, int64_t dim,
                     int64_t grid_h, int64_t grid_w, const int32_t* row, const int32_t* col,
                     int64_t n, float* out, int n_threads);

// The patch matrix of a [C, H, W] image for a Conv2d with kernel = stride =
// p: out[(py * (W / p) + px), (c * p + i) * p + j] = image[c, py * p + i, px * p + j];
// out: [(H / p) * (W / p), C * p * p]. H and W must be multiples of p.
void ImageToPatches(const float* image, int64_t channels, int64_t height, int64_t width,
                    int64_t patch, float* out);

// The input of a merge x merge stride-merge Conv2d over patch rows, as
// rows of the conv's receptive field: with m2 = merge^2,
// out[w, c * m2 + k] = x[src_rows[w * m2 + k], c] for windows w < n_windows,
// where k = i * merge + j indexes the window's patch at (i, j); out:
// [n_windows, dim * m2], x: [*, dim].
void GatherWindows(const float* x, int64_t dim, const int64_t* src_rows, int64_t n_windows,
                   int64_t merge, float* out, int n_threads);

}  // namespace glmq::vision
