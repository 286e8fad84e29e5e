// PNG / JPEG decoding (image/image.h DecodeImage), with a small pixel limit
// so that a valid huge header costs nothing.
#include <cstddef>
#include <cstdint>

#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glmq::image::DecodeLimits limits;
  limits.max_pixels = 1 << 22;
  (void)glmq::image::DecodeImage({data, size}, "fuzz", limits);
  return 0;
}
