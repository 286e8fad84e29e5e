// Helpers for format tests: a small deterministic model file, and a way to
// rewrite a file's metadata or header with valid checksums so that a test
// reaches the check behind the checksum. Test-only (header-only).
#pragma once

#include <cstdint>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/file.h"
#include "core/status.h"
#include "schema/glmq.pb.h"
#include "format/header.h"
#include "format/writer.h"
#include "schema/encodings.h"

namespace glmq::testing {

// Deterministic bytes that are finite as f32, f16 and bf16 values and as
// quantized group headers (the writer refuses NaN / Inf): bit 6 of every
// odd byte is clear, so no little-endian 16-bit word has all exponent bits
// of f16 (0x7c00) or bf16 (0x7f80) set, nor the high half of an f32. No byte
// is 0x80, which as a q8 code (-128) the writer also refuses.
inline std::vector<uint8_t> TestBytes(uint64_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (uint64_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v[i] = static_cast<uint8_t>(x) & (i % 2 == 1 ? 0xbf : 0xff);
    if (v[i] == 0x80) v[i] = 0x81;
  }
  return v;
}

inline pb::TensorEntry Entry(const std::string& name, pb::Encoding enc,
                             std::vector<int64_t> shape, int group_size = 0, int layer = -1,
                             pb::Role role = pb::ROLE_OTHER) {
  pb::TensorEntry e;
  e.set_name(name);
  e.set_role(role);
  e.set_layer(layer);
  e.set_encoding(enc);
  e.set_group_size(group_size);
  for (int64_t d : shape) e.add_shape(d);
  return e;
}

// Writes a three-tensor file: "token_embd.weight" bf16 [16, 8],
// "blk.0.attn_qkv.weight" q4 g32 [8, 64], "output_norm.weight" f32 [8].
inline absl::Status WriteSmallModel(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(auto w, GlmqWriter::Create(path));
  w->metadata().mutable_hparams()->set_n_layers(1);
  w->metadata().mutable_hparams()->set_hidden_size(8);
  const std::vector<pb::TensorEntry> entries = {
      Entry("token_embd.weight", pb::ENCODING_BF16, {16, 8}, 0, -1, pb::ROLE_TOKEN_EMBD),
      Entry("blk.0.attn_qkv.weight", pb::ENCODING_Q4_SYM, {8, 64}, 32, 0, pb::ROLE_ATTN_QKV),
      Entry("output_norm.weight", pb::ENCODING_F32, {8}, 0, -1, pb::ROLE_OUTPUT_NORM)};
  uint32_t seed = 1;
  for (const pb::TensorEntry& e : entries) {
    GLMQ_ASSIGN_OR_RETURN(uint64_t n, EncodedBytes(e));
    GLMQ_RETURN_IF_ERROR(w->AddTensor(e, TestBytes(n, seed++)));
  }
  return w->Finish();
}

// Parsed pieces of an existing file.
struct RawFile {
  std::string bytes;
  GlmqHeader header;
  pb::ModelMetadata metadata;
};

inline absl::StatusOr<RawFile> ReadRaw(const std::string& path) {
  RawFile r;
  GLMQ_ASSIGN_OR_RETURN(r.bytes, ReadFileToString(path));
  GLMQ_ASSIGN_OR_RETURN(
      r.header, DecodeGlmqHeader({reinterpret_cast<const uint8_t*>(r.bytes.data()),
                                  r.bytes.size()}, path));
  if (!r.metadata.ParseFromArray(r.bytes.data() + r.header.metadata_offset,
                                 static_cast<int>(r.header.metadata_size)))
    return absl::DataLossError("cannot parse metadata");
  return r;
}

// Writes data section + `metadata_bytes` + a header consistent with them
// (checksums valid), after `edit_header` had its say.
inline absl::Status WriteRaw(const std::string& path, const RawFile& r,
                             const std::string& metadata_bytes,
                             const std::function<void(GlmqHeader&)>& edit_header = {}) {
  GlmqHeader h = r.header;
  std::string out = r.bytes.substr(0, h.metadata_offset);
  h.metadata_size = metadata_bytes.size();
  h.metadata_xxh64 = XxHash64(metadata_bytes);
  h.file_size = out.size() + metadata_bytes.size();
  out += metadata_bytes;
  if (edit_header) edit_header(h);
  uint8_t hb[kGlmqHeaderSize];
  EncodeGlmqHeader(h, hb);
  out.replace(0, kGlmqHeaderSize, reinterpret_cast<const char*>(hb), kGlmqHeaderSize);
  return WriteFileAtomically(path, out);
}

// Rewrites the metadata of `path` through `edit` (checksums stay valid).
inline absl::Status EditMetadata(const std::string& path,
                                 const std::function<void(pb::ModelMetadata&)>& edit) {
  GLMQ_ASSIGN_OR_RETURN(RawFile r, ReadRaw(path));
  edit(r.metadata);
  return WriteRaw(path, r, r.metadata.SerializeAsString());
}

// Rewrites the header of `path` through `edit` (header checksum stays valid).
inline absl::Status EditHeader(const std::string& path,
                               const std::function<void(GlmqHeader&)>& edit) {
  GLMQ_ASSIGN_OR_RETURN(RawFile r, ReadRaw(path));
  return WriteRaw(path, r, r.bytes.substr(r.header.metadata_offset, r.header.metadata_size),
                  edit);
}

// A fresh path in the test's temp dir.
inline std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/glmq_format_", ::getpid(), "_", name);
}

}  // namespace glmq::testing
