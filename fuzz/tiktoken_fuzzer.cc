// tiktoken tokenizer.model loader, then encode / decode with it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "runtime/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> files = {
      {"tokenizer.model", std::string(reinterpret_cast<const char*>(data), size)}};
  auto tok = glmq::Tokenizer::FromFiles(files);
  if (!tok.ok()) return 0;
  const auto ids = (*tok)->Encode("Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd\n\n  x", true);
  (void)(*tok)->Decode(ids);
  (void)(*tok)->EncodeChat({{"user", "hi"}});
  return 0;
}
