// Parsers for the tokenizer files (internal to glmq_tokenizer; exposed for
// tests). Every error names the file and the line or field.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"
#include "runtime/tokenizer/bpe.h"

namespace glmq::tok {

// Largest token id accepted from any tokenizer file: 2^22 - 1, as the
// vocabulary limit of schema/hparams.h (kMaxWidth; GLM-4 has 151,552), so
// that id tables sized from a file stay small.
inline constexpr int32_t kMaxTokenId = (int32_t{1} << 22) - 1;

// A token id from JSON: an integer in [0, kMaxTokenId], else an error
// naming `where` and `field`.
absl::StatusOr<int32_t> JsonTokenId(const Json& v, absl::string_view where,
                                    absl::string_view field);

// The GLM-4 pre-tokenizer regex, as it appears in tokenizer.json.
extern const char kGlm4Regex[];

// Strict standard base64 ('=' padding required); nullopt-like error on bad input.
absl::StatusOr<std::string> Base64Decode(absl::string_view in);

// tiktoken tokenizer.model: "base64(bytes) rank" lines (blank lines are
// skipped); ranks must be unique and cover 0..n-1.
absl::StatusOr<std::vector<std::pair<std::string, int32_t>>> ParseTiktoken(
    absl::string_view data, absl::string_view where);

struct SpecialToken {
  std::string content;
  int32_t id;
};

// HF tokenizer.json with a byte-level BPE model and the GLM-4 regex.
// Fills `specials` from added_tokens.
absl::StatusOr<BpeModel> ParseHfTokenizerJson(const Json& root, absl::string_view where,
                                              std::vector<SpecialToken>* specials);

// The ids a tokenizer.json's post-processor puts before the text: the
// SpecialToken entries ahead of sequence A in a TemplateProcessing "single"
// template (alone or in a Sequence); none without one.
absl::StatusOr<std::vector<int32_t>> ParsePostProcessorPrefix(const Json& root,
                                                             absl::string_view where);

// GPT-2 bytes_to_unicode: the byte each of the 256 code points stands for.
// Returns the raw bytes of a byte-level token string, or an error.
absl::StatusOr<std::string> ByteLevelToBytes(absl::string_view token, absl::string_view where);

}  // namespace glmq::tok
