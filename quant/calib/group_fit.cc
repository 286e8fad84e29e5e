#include "quant/calib/group_fit.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "quant/reference.h"

namespace glmq::calib {

GroupFit FitGroup(const EncodingTraits& t, const float* x, int64_t n, int64_t stride, float clip) {
  GroupFit f;
  if (!t.has_min) {
    float amax = 0.f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i * stride]));
    f.scale16 = F16MagnitudeUp(clip * amax / static_cast<float>(t.q_max));
  } else {
    float mn = n > 0 ? x[0] : 0.f, mx = mn;
    for (int64_t i = 1; i < n; ++i) {
      mn = std::min(mn, x[i * stride]);
      mx = std::max(mx, x[i * stride]);
    }
    mn *= clip;
    mx *= clip;
    f.min16 = F16Down(mn);
    f.min = F16ToF32(f.min16);
    f.scale16 = F16MagnitudeUp((mx - f.min) / static_cast<float>(t.q_max));
  }
  f.scale = F16ToF32(f.scale16);
  f.inv_scale = f.scale != 0.f ? 1.f / f.scale : 0.f;
  return f;
}

GroupFit GroupFitOf(const EncodingTraits& t, float scale, float min) {
  GroupFit f;
  f.scale16 = F16Nearest(scale);  // exact: scale is an f16 value
  f.scale = F16ToF32(f.scale16);
  if (t.has_min) {
    f.min16 = F16Nearest(min);
    f.min = F16ToF32(f.min16);
  }
  f.inv_scale = f.scale != 0.f ? 1.f / f.scale : 0.f;
  return f;
}

}  // namespace glmq::calib
