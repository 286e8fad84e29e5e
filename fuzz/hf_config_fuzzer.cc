// config.json -> HParams -> the tensor table of the model.
#include <cstddef>
#include <cstdint>

#include "convert/hf_config.h"
#include "convert/layout.h"
#include "core/json.h"
#include "schema/tensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = glmq::ParseJson(
      absl::string_view(reinterpret_cast<const char*>(data), size), "config.json");
  if (!json.ok()) return 0;
  auto hp = glmq::HParamsFromHfConfig(*json, "config.json");
  if (!hp.ok()) return 0;
  auto tensors = glmq::ModelTensors(*hp);
  if (tensors.ok()) (void)glmq::ExpectedHfTensors(*hp);
  return 0;
}
