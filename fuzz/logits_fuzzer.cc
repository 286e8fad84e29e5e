// Saved-logits reader (eval kld --ref-logits).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "runtime/logits_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = glmq::LogitsReader::Open(glmq::fuzz::ScratchFile(data, size));
  if (!r.ok()) return 0;
  float sum = 0;
  for (const auto& rec : (*r)->records()) sum += rec.logits[0];
  volatile float sink = sum;
  (void)sink;
  return 0;
}
