// glmq tokenize --tokenizer DIR|FILE.glmq --text "..." [--chat] [--decode]
// [--special] [--pieces]: prints token ids (one line, space separated), or
// with --decode turns ids given in --text back into text. DIR is a Hugging
// Face model folder; a .glmq file uses its embedded tokenizer files and eos ids.
#include <cstdio>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "core/status.h"
#include "format/reader.h"
#include "runtime/tokenizer/pretokenize.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text;
  std::string role = "user";
  bool chat = false;
  bool decode = false;
  bool special = false;
  bool pieces = false;
};

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  if (!absl::EndsWith(path, ".glmq")) return Tokenizer::FromDir(path);
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
  const pb::Tokenizer& meta = file->metadata().tokenizer();
  std::map<std::string, std::string> files;
  for (const pb::EmbeddedFile& f : meta.files()) {
    GLMQ_ASSIGN_OR_RETURN(files[f.name()], file->EmbeddedFile(f.name()));
  }
  TokenizerOptions options;
  for (int64_t id : meta.eos_token_ids()) options.extra_eos_ids.push_back(static_cast<int32_t>(id));
  auto t = Tokenizer::FromFiles(files, options);
  if (!t.ok()) return Annotate(t.status(), path);
  return t;
}

absl::Status RunTokenize(const TokenizeArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(a.tokenizer));
  if (a.decode) {
    std::vector<int32_t> ids;
    for (absl::string_view s : absl::StrSplit(a.text, absl::ByAnyChar(" ,\n\t"), absl::SkipEmpty())) {
      int32_t id;
      if (!absl::SimpleAtoi(s, &id)) {
        return absl::InvalidArgumentError(absl::StrCat("--text: '", std::string(s), "' is not an id"));
      }
      ids.push_back(id);
    }
    const std::string out = tok->Decode(ids);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    return absl::OkStatus();
  }
  if (a.pieces) {  // the pre-tokenizer's split, one piece per line, C-escaped
    std::vector<absl::string_view> pieces;
    tok::PreTokenize(a.text, &pieces);
    for (absl::string_view p : pieces) std::printf("%s\n", absl::CHexEscape(p).c_str());
    return absl::OkStatus();
  }
  const std::vector<int32_t> ids =
      a.chat ? tok->EncodeChat({{a.role, a.text}}) : tok->Encode(a.text, a.special);
  std::printf("%s\n", absl::StrJoin(ids, " ").c_str());
  return absl::OkStatus();
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<TokenizeArgs>();
  sub->add_option("--tokenizer", a->tokenizer, "HF model folder or .glmq file")->required();
  sub->add_option("--text", a->text, "text to encode (ids to decode with --decode)")->required();
  sub->add_flag("--chat", a->chat, "wrap as one chat message with the generation prompt");
  sub->add_option("--role", a->role, "role of the --chat message (default user)");
  sub->add_flag("--decode", a->decode, "decode the ids in --text");
  sub->add_flag("--special", a->special, "special-token strings in --text become their ids");
  sub->add_flag("--pieces", a->pieces, "print the pre-tokenizer pieces instead of ids");
  return [a] { return RunTokenize(*a); };
}

}  // namespace

GLMQ_COMMAND(tokenize, "tokenize", "encode or decode text with a model's tokenizer", Setup);

}  // namespace glmq::tools
