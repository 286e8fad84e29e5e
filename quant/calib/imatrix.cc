#include "quant/calib/imatrix.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace glmq::calib {

absl::StatusOr<std::vector<float>> ImatrixImportance(const std::vector<double>& sum_x2,
                                                     int64_t count) {
  if (count <= 0) return absl::InvalidArgumentError(absl::StrCat("imatrix over ", count, " rows"));
  std::vector<float> imp(sum_x2.size());
  double mean = 0;
  for (size_t j = 0; j < sum_x2.size(); ++j) {
    if (!std::isfinite(sum_x2[j]) || sum_x2[j] < 0)
      return absl::InvalidArgumentError(absl::StrCat("imatrix channel ", j, " sum ", sum_x2[j]));
    imp[j] = static_cast<float>(sum_x2[j] / static_cast<double>(count));
    mean += imp[j];
  }
  mean /= std::max<size_t>(1, imp.size());
  const float floor = static_cast<float>(1e-6 * mean);
  for (float& v : imp) v = std::max(v, floor);
  return imp;
}

}  // namespace glmq::calib
