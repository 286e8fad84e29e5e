// The GLM-4 tokenizer in GGUF's BPE form and back.
//
// Export (as convert_hf_to_gguf.py does for GLM-4): tokenizer.ggml.model
// "gpt2"; one token per embedding row: regular tokens as GPT-2 byte-level
// strings (type NORMAL), special tokens as their text (CONTROL), unused
// padding rows as "[PAD<id>]" (UNUSED); merges derived from the tiktoken
// ranks (= regular token ids): for every token of two or more bytes, in rank
// order, BPE of its bytes using only lower ranks yields the pair it merges.
//
// Import: the NORMAL tokens become a tiktoken tokenizer.model (rank = id),
// CONTROL / USER_DEFINED tokens the special tokens of a tokenizer_config.json
// (with the chat template), so glmq's tokenizer reads them unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "export/gguf_reader.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq::gguf {

// llama_token_type values (llama.h).
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

struct GgufVocab {
  std::vector<std::string> tokens;  // one per id in [0, n_tokens)
  std::vector<int32_t> types;
  std::vector<std::string> merges;  // "left right", byte-level strings
  int64_t unmergeable = 0;          // multi-byte tokens whose BPE did not give exactly two parts
};

// Tokens, types and merges for `n_tokens` ids (the embedding rows).
absl::StatusOr<GgufVocab> BuildGgufVocab(const Tokenizer& tok, int64_t n_tokens);

// GPT-2 bytes_to_unicode: each byte becomes one code point, as UTF-8.
std::string BytesToByteLevel(absl::string_view bytes);

struct TokenizerFiles {
  std::string tiktoken;          // tokenizer.model
  std::string tokenizer_config;  // tokenizer_config.json
  std::vector<int64_t> eos_ids;
  std::map<std::string, int64_t> specials;
  std::string chat_template;
};

// Rebuilds the tokenizer files from a GGUF file's tokenizer.ggml.* keys.
absl::StatusOr<TokenizerFiles> TokenizerFilesFromGguf(const GgufFile& f);

}  // namespace glmq::gguf
