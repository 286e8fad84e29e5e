// Scalar reference of the quantized encodings: packing, plain round-to-
// nearest quantization and dequantization. This code IS the byte-level spec
// (specs/encodings.md); every faster path is tested against it.
#pragma once

#include <cstdint>

#include "schema/glmq.pb.h"
#include "schema/encodings.h"

namespace glmq {

// clamp(rint(v), lo, hi) with rint = round half to even, without a libm
// call: clamping first keeps |v| < 2^22, where adding and subtracting
// 1.5 * 2^23 rounds to an integer in the default rounding mode exactly as
// rint does.
inline float RoundClampF(float v, float lo, float hi) {
  v = v < lo ? lo : (v > hi ? hi : v);
  constexpr float kMagic = 12582912.f;  // not folded: we never build with -ffast-math
  return (v + kMagic) - kMagic;
}

// One group in unpacked form: `scale`, `min` (q4a only, else 0) and g signed
// values q (q8: -127..127, q4: -8..7, q4a: 0..15). Value i decodes to
// scale * q[i] (+ min for q4a), computed in f32.
struct UnpackedGroup {
  float scale = 0.f;
  float min = 0.f;
};

// f16 helpers for headers: the f16 nearest to `v`, and the nearest f16 whose
// magnitude is >= |v| (for scales: then no value of the group clips), and the
// largest f16 <= v (for mins: then no value falls below the min). `v` must be
// finite and within the f16 range.
uint16_t F16Nearest(float v);
uint16_t F16MagnitudeUp(float v);
uint16_t F16Down(float v);

// Writes one group: header (f16 scale [, f16 min]) then the g values packed
// (q8: one int8 each; q4/q4a: byte i holds value i in its low nibble and
// value i + g/2 in its high nibble). `scale16`/`min16` are f16 bit patterns.
void PackGroup(const GroupGeometry& geo, uint16_t scale16, uint16_t min16, const int8_t* q,
               uint8_t* out);
// Inverse of PackGroup: fills q[0..g) and returns the header as floats.
UnpackedGroup UnpackGroup(const GroupGeometry& geo, const uint8_t* in, int8_t* q);

// Plain round-to-nearest quantization of one row of `cols` values (finite,
// |x| small enough that the scale fits f16) into geo.row_bytes bytes:
//   q8:  d = max|x| / 127, q = clamp(rint(x * (1/d)), -127, 127)
//   q4:  d = max|x| / 7,   q = clamp(rint(x * (1/d)), -8, 7)
//   q4a: m = min(x) (f16 rounded down), s = (max(x) - m) / 15,
//        u = clamp(rint((x - m) * (1/s)), 0, 15)
// d and s are rounded to f16 away from zero, so no value clips and the error
// is at most half a step. Padding values (beyond cols) are zero: q = 0.
void QuantizeRowRef(const GroupGeometry& geo, const float* x, int64_t cols, uint8_t* out);
// Decodes one packed row into cols f32 values.
void DequantizeRowRef(const GroupGeometry& geo, const uint8_t* in, int64_t cols, float* out);

}  // namespace glmq
