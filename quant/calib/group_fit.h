// Per-group fitting of the file encodings (q8, q4, q4a) for the calibrated
// quantizers: the same absmax / min-max rule as QuantizeRowRef
// (quant/reference.h), but on any strided set of values and with a clip
// ratio, so that GPTQ can fit a group from its error-updated weights and
// AWQ can try shrunken ranges. Every value a GroupFit produces is exactly
// what the stored f16 header(s) and integer code decode to.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "schema/encodings.h"

namespace glmq::calib {

struct GroupFit {
  uint16_t scale16 = 0;  // f16 bit patterns as stored
  uint16_t min16 = 0;    // q4a only
  float scale = 0.f;     // F16ToF32(scale16)
  float min = 0.f;       // F16ToF32(min16), 0 for symmetric encodings
  float inv_scale = 0.f; // 1 / scale, or 0 for a zero scale
};

// Fits a group of n values x[0], x[stride], ... with the RTN rule of
// QuantizeRowRef after shrinking the range by `clip` (1 = no clipping):
// symmetric: scale = clip * max|x| / q_max; q4a: [clip * min, clip * max]
// (AutoAWQ's clip rule), min rounded down to f16, scale rounded up.
GroupFit FitGroup(const EncodingTraits& t, const float* x, int64_t n, int64_t stride,
                  float clip = 1.f);

// The fit of a stored header: scale and min (0 for symmetric encodings) as
// decoded from their f16 fields (exact f16 values, e.g. UnpackGroup's).
GroupFit GroupFitOf(const EncodingTraits& t, float scale, float min);

// The stored signed code of x (q8: -127..127, q4: -8..7, q4a: 0..15),
// rounding half to even like QuantizeRowRef.
inline int8_t QuantizeCode(const EncodingTraits& t, const GroupFit& f, float x) {
  const float r = std::nearbyint((x - f.min) * f.inv_scale);
  return static_cast<int8_t>(
      std::clamp(r, static_cast<float>(t.q_min), static_cast<float>(t.q_max)));
}
// What code q decodes to (scale * q + min, in f32 as DequantizeRowRef does).
inline float DequantizeCode(const GroupFit& f, int8_t q) {
  return f.scale * static_cast<float>(q) + f.min;
}

}  // namespace glmq::calib
