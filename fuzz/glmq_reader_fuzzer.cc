// .glmq reader: header, metadata, tensor table, checksums, embedded files.
#include <cstddef>
#include <cstdint>

#include "format/reader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = glmq::GlmqFile::Open(glmq::fuzz::ScratchFile(data, size));
  if (!file.ok()) return 0;
  (void)(*file)->VerifyChecksums();
  for (const auto& f : (*file)->metadata().tokenizer().files()) {
    (void)(*file)->EmbeddedFile(f.name());
  }
  return 0;
}
