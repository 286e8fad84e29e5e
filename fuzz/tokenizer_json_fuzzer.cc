// HF tokenizer.json loader (optionally with a tokenizer_config.json: the
// input is split at the first NUL byte), then encode / decode with it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "runtime/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> files;
  const size_t nul = in.find('\0');
  files["tokenizer.json"] = in.substr(0, nul);
  if (nul != std::string::npos) files["tokenizer_config.json"] = in.substr(nul + 1);
  auto tok = glmq::Tokenizer::FromFiles(files);
  if (!tok.ok()) return 0;
  const auto ids = (*tok)->Encode("Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd\n\n  x", true);
  (void)(*tok)->Decode(ids);
  (void)(*tok)->EncodeChat({{"user", "hi"}});
  return 0;
}
