#include "format/embedded.h"

#include <zstd.h>

#include <new>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"

namespace glmq {

absl::StatusOr<pb::EmbeddedFile> CompressEmbeddedFile(absl::string_view name,
                                                      absl::string_view bytes, int level) {
  if (bytes.size() > kMaxEmbeddedFileBytes)
    return absl::InvalidArgumentError(absl::StrCat("embedded file '", name, "' is ",
                                                   bytes.size(), " bytes, over the limit of ",
                                                   kMaxEmbeddedFileBytes));
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), level);
  if (ZSTD_isError(n))
    return absl::ResourceExhaustedError(
        absl::StrCat("compressing embedded file '", name, "': ", ZSTD_getErrorName(n)));
  out.resize(n);
  pb::EmbeddedFile f;
  f.set_name(std::string(name));
  f.set_size(bytes.size());
  f.set_xxh64(XxHash64(bytes));
  f.set_zstd_data(std::move(out));
  return f;
}

pb::EmbeddedFile MakeEmbeddedFile(absl::string_view name, absl::string_view bytes, int level) {
  absl::StatusOr<pb::EmbeddedFile> f = CompressEmbeddedFile(name, bytes, level);
  if (!f.ok()) throw std::bad_alloc();
  return *std::move(f);
}

absl::StatusOr<std::string> DecompressEmbeddedFile(const pb::EmbeddedFile& file,
                                                   absl::string_view where) {
  const std::string prefix = absl::StrCat(where, ": embedded file '", file.name(), "': ");
  if (file.size() > kMaxEmbeddedFileBytes)
    return absl::InvalidArgumentError(absl::StrCat(prefix, "size ", file.size(),
                                                   " is over the limit of ",
                                                   kMaxEmbeddedFileBytes));
  const std::string& src = file.zstd_data();
  const unsigned long long frame = ZSTD_getFrameContentSize(src.data(), src.size());
  if (frame == ZSTD_CONTENTSIZE_ERROR)
    return absl::DataLossError(absl::StrCat(prefix, "not a zstd frame"));
  if (frame != ZSTD_CONTENTSIZE_UNKNOWN && frame != file.size())
    return absl::DataLossError(absl::StrCat(prefix, "zstd frame holds ", frame,
                                            " bytes, metadata says ", file.size()));
  std::string out(file.size(), '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), src.data(), src.size());
  if (ZSTD_isError(n))
    return absl::DataLossError(absl::StrCat(prefix, "zstd: ", ZSTD_getErrorName(n)));
  if (n != file.size())
    return absl::DataLossError(
        absl::StrCat(prefix, "decompressed to ", n, " bytes, metadata says ", file.size()));
  const uint64_t h = XxHash64(out);
  if (h != file.xxh64())
    return absl::DataLossError(absl::StrCat(prefix, "checksum mismatch (stored ",
                                            HexU64(file.xxh64()), ", computed ", HexU64(h), ")"));
  return out;
}

}  // namespace glmq
