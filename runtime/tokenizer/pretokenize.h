// GLM-4's pre-tokenizer: splits text into the pieces that BPE encodes one by
// one. It is a hand-written matcher (no regex library) equivalent to
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//    ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// with leftmost-first alternation and the backtracking the regex engines of
// tiktoken and HF tokenizers apply (\s is Unicode White_Space; \p{L}/\p{N}
// come from unicode_tables.inc). Bytes that are not valid UTF-8 are single
// units of class "other" (see unicode.h), so any input splits without error
// and the pieces always concatenate back to the input.
// Checked against Python's `regex` module (same pattern) on 20k random
// strings and on every assigned code point in blocks of 500: identical
// splits, except for code points assigned after the tables' Unicode version
// (14.0), which these tables class as "other".
#pragma once

#include <vector>

#include "absl/strings/string_view.h"

namespace glmq::tok {

// Appends the pieces of `text` (views into it) to `pieces`. Thread-safe.
void PreTokenize(absl::string_view text, std::vector<absl::string_view>* pieces);

}  // namespace glmq::tok
