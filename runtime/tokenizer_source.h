// Where a tool's tokenizer comes from: the one a .glmq embeds, or one given
// with --tokenizer as a Hugging Face model folder, a tokenizer.model or
// tokenizer.json file (with the tokenizer_config.json, generation_config.json
// and config.json beside it, when there), or another .glmq. Shared by
// generate, eval, calibrate and tokenize.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "format/reader.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

// The tokenizer at `path` (see above). Errors name the path.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path,
                                                         const TokenizerOptions& options = {});

// The tokenizer embedded in `file`, with the file's eos ids. A file
// without one (e.g. a glmq synth checkpoint converted as it is) is an error
// that says to pass --tokenizer.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadEmbeddedTokenizer(const GlmqFile& file,
                                                                 TokenizerOptions options = {});

// Checks that every id of `tok` has a row in the model's embedding
// (hparams.padded_vocab_size); `name` says whose tokenizer it is.
absl::Status CheckTokenizerFitsModel(const Tokenizer& tok, const pb::HParams& hp,
                                     absl::string_view name);

}  // namespace glmq
