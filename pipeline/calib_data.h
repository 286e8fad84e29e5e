// The calibration statistics file (format/stats_file.h) as the CalibData a
// calibrated quantization method reads (quant/calib/calib_method.h),
// checked against the model it is applied to.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "quant/calib/calib_method.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Opens `stats_path` and checks that its statistics come from this model:
// every record's layer and width as the model's, and (when recorded) the
// same fingerprint weight (read through `weights`). `cache_records`: keep
// the last 4 records loaded (AWQ asks for a block's four records in a row;
// GPTQ frees X^T X once it has copied it). Errors name the file.
absl::StatusOr<CalibData> OpenCalibData(const std::string& stats_path, const pb::HParams& hp,
                                        const calib::WeightFn& weights, bool cache_records);

}  // namespace glmq
