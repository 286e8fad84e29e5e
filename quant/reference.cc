#include "quant/reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dtype.h"

namespace glmq {

uint16_t F16Nearest(float v) { return F32ToF16(v); }

uint16_t F16MagnitudeUp(float v) {
  uint16_t h = F32ToF16(v);
  // Increasing the bit pattern of a finite f16 increases its magnitude.
  if (std::fabs(F16ToF32(h)) < std::fabs(v) && (h & 0x7fff) < 0x7bff) ++h;
  return h;
}

uint16_t F16Down(float v) {
  uint16_t h = F32ToF16(v);
  if (F16ToF32(h) > v) {
    if (h == 0x0000) return 0x8001;              // +0 -> smallest negative subnormal
    if (h & 0x8000) {
      if ((h & 0x7fff) < 0x7bff) ++h;            // more negative
    } else {
      --h;                                       // smaller positive
    }
  }
  return h;
}

void PackGroup(const GroupGeometry& geo, uint16_t scale16, uint16_t min16, const int8_t* q,
               uint8_t* out) {
  const EncodingTraits& t = *geo.traits;
  out[0] = static_cast<uint8_t>(scale16 & 0xff);
  out[1] = static_cast<uint8_t>(scale16 >> 8);
  if (t.has_min) {
    out[2] = static_cast<uint8_t>(min16 & 0xff);
    out[3] = static_cast<uint8_t>(min16 >> 8);
  }
  uint8_t* v = out + t.group_header_bytes;
  if (t.value_bits == 8) {
    for (int64_t i = 0; i < geo.g; ++i) v[i] = static_cast<uint8_t>(q[i]);
    return;
  }
  const int64_t half = geo.g / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int lo = q[i] + t.value_offset;
    const int hi = q[i + half] + t.value_offset;
    v[i] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
  }
}

UnpackedGroup UnpackGroup(const GroupGeometry& geo, const uint8_t* in, int8_t* q) {
  const EncodingTraits& t = *geo.traits;
  UnpackedGroup u;
  u.scale = F16ToF32(static_cast<uint16_t>(in[0] | (in[1] << 8)));
  if (t.has_min) u.min = F16ToF32(static_cast<uint16_t>(in[2] | (in[3] << 8)));
  const uint8_t* v = in + t.group_header_bytes;
  if (t.value_bits == 8) {
    for (int64_t i = 0; i < geo.g; ++i) q[i] = static_cast<int8_t>(v[i]);
    return u;
  }
  const int64_t half = geo.g / 2;
  for (int64_t i = 0; i < half; ++i) {
    q[i] = static_cast<int8_t>((v[i] & 0x0f) - t.value_offset);
    q[i + half] = static_cast<int8_t>((v[i] >> 4) - t.value_offset);
  }
  return u;
}

namespace {

int8_t RoundClamp(float v, int lo, int hi) {
  return static_cast<int8_t>(RoundClampF(v, static_cast<float>(lo), static_cast<float>(hi)));
}

}  // namespace

void QuantizeRowRef(const GroupGeometry& geo, const float* x, int64_t cols, uint8_t* out) {
  const EncodingTraits& t = *geo.traits;
  std::vector<int8_t> q(geo.g);
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    const int64_t begin = gi * geo.g;
    const int64_t n = std::min<int64_t>(geo.g, cols - begin);
    const float* xg = x + begin;
    std::fill(q.begin(), q.end(), 0);
    uint16_t scale16 = 0, min16 = 0;
    if (!t.has_min) {
      float amax = 0.f;
      for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(xg[i]));
      // q4 uses 7 (not 8) so that +max|x| does not clip; -8 stays available
      // to the searched quantizer (quant/quantize.h).
      const int qpos = t.q_max;
      scale16 = F16MagnitudeUp(amax / static_cast<float>(qpos));
      const float d = F16ToF32(scale16);
      const float id = d != 0.f ? 1.f / d : 0.f;
      for (int64_t i = 0; i < n; ++i) q[i] = RoundClamp(xg[i] * id, t.q_min, t.q_max);
    } else {
      float mn = xg[0], mx = xg[0];
      for (int64_t i = 1; i < n; ++i) {
        mn = std::min(mn, xg[i]);
        mx = std::max(mx, xg[i]);
      }
      min16 = F16Down(mn);
      const float m = F16ToF32(min16);
      scale16 = F16MagnitudeUp((mx - m) / static_cast<float>(t.q_max));
      const float s = F16ToF32(scale16);
      const float is = s != 0.f ? 1.f / s : 0.f;
      for (int64_t i = 0; i < n; ++i) q[i] = RoundClamp((xg[i] - m) * is, t.q_min, t.q_max);
    }
    PackGroup(geo, scale16, min16, q.data(), out + gi * geo.group_bytes);
  }
}

void DequantizeRowRef(const GroupGeometry& geo, const uint8_t* in, int64_t cols, float* out) {
  std::vector<int8_t> q(geo.g);
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    const UnpackedGroup u = UnpackGroup(geo, in + gi * geo.group_bytes, q.data());
    const int64_t begin = gi * geo.g;
    const int64_t n = std::min<int64_t>(geo.g, cols - begin);
    for (int64_t i = 0; i < n; ++i) out[begin + i] = u.scale * static_cast<float>(q[i]) + u.min;
  }
}

}  // namespace glmq
