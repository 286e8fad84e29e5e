// glmq tokenize --tokenizer DIR|FILE|M.glmq [--text "..." | --file F | stdin]
// [--chat [--role R] | --messages F.json] [--decode] [--special] [--prefix]
// [--pieces]: prints token ids (one line, space separated), or with
// --decode turns ids back into text. The tokenizer is a Hugging Face model
// folder, a tokenizer.model / tokenizer.json, or a .glmq (its embedded
// tokenizer); see runtime/tokenizer_source.h.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file.h"
#include "core/status.h"
#include "runtime/tokenizer/pretokenize.h"
#include "runtime/tokenizer_source.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text, file, messages;
  std::string role = "user";
  bool chat = false;
  bool decode = false;
  bool special = false;
  bool prefix = false;
  bool pieces = false;
};

// --text, else --file ("-": stdin), else stdin when it is not a terminal.
absl::StatusOr<std::string> Input(const TokenizeArgs& a, bool text_given) {
  if (text_given) return a.text;
  if (!a.file.empty() && a.file != "-") return ReadFileToString(a.file, InputKind::kText);
  if (a.file.empty() && isatty(STDIN_FILENO)) {
    return absl::InvalidArgumentError("give --text TEXT, --file FILE, or text on stdin");
  }
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

absl::Status Decode(const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  for (absl::string_view s : absl::StrSplit(text, absl::ByAnyChar(" ,\n\t"), absl::SkipEmpty())) {
    int32_t id;
    if (!absl::SimpleAtoi(s, &id)) {
      return absl::InvalidArgumentError(absl::StrCat("'", std::string(s), "' is not an id"));
    }
    // Decode skips ids it has no piece for: an id outside the vocabulary
    // printed nothing with exit code 0.
    if (id < 0 || id >= tok.vocab_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("id ", id, " is outside the vocabulary 0..", tok.vocab_size() - 1));
    }
    ids.push_back(id);
  }
  const std::string out = tok.Decode(ids);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> ChatIds(const TokenizeArgs& a, const Tokenizer& tok,
                                             const std::string& text) {
  Conversation c;
  if (!a.messages.empty()) {
    GLMQ_ASSIGN_OR_RETURN(std::string json, ReadFileToString(a.messages, InputKind::kJson));
    GLMQ_ASSIGN_OR_RETURN(c, ParseConversation(json, a.messages));
  } else {
    c.Add(a.role, text);
  }
  ChatEncodeOptions o;
  o.special_in_messages = a.special;
  return tok.EncodeChat(c, o);
}

absl::Status RunTokenize(const TokenizeArgs& a, bool text_given) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(a.tokenizer));
  std::string text;
  if (a.messages.empty()) {
    GLMQ_ASSIGN_OR_RETURN(text, Input(a, text_given));
  }
  if (a.decode) return Decode(*tok, text);
  if (a.pieces) {  // the pre-tokenizer's split, one piece per line, C-escaped
    std::vector<absl::string_view> pieces;
    tok::PreTokenize(text, &pieces);
    for (absl::string_view p : pieces) std::printf("%s\n", absl::CHexEscape(p).c_str());
    return absl::OkStatus();
  }
  std::vector<int32_t> ids;
  if (a.chat || !a.messages.empty()) {
    GLMQ_ASSIGN_OR_RETURN(ids, ChatIds(a, *tok, text));
  } else {
    ids = a.prefix ? tok->EncodeWithPrefix(text, a.special) : tok->Encode(text, a.special);
  }
  std::printf("%s\n", absl::StrJoin(ids, " ").c_str());
  return absl::OkStatus();
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<TokenizeArgs>();
  sub->add_option("--tokenizer", a->tokenizer,
                  "HF model folder, tokenizer.model, tokenizer.json or .glmq")
      ->required();
  CLI::Option* text =
      sub->add_option("--text", a->text, "text to encode (ids to decode with --decode)");
  sub->add_option("--file", a->file, "read the text from FILE ('-': stdin)")->excludes(text);
  sub->add_flag("--chat", a->chat, "wrap the text as one chat message with the generation prompt");
  sub->add_option("--role", a->role, "role of the --chat message (default user)");
  sub->add_option("--messages", a->messages,
                  "encode a conversation file with the chat template (see glmq generate)");
  sub->add_flag("--decode", a->decode, "decode the ids in the text");
  sub->add_flag("--special", a->special, "special-token strings in the text become their ids");
  sub->add_flag("--prefix", a->prefix,
                "add the tokenizer's prefix ([gMASK]<sop> for GLM-4), as HF tokenizer.encode");
  sub->add_flag("--pieces", a->pieces, "print the pre-tokenizer pieces instead of ids");
  return [a, text] { return RunTokenize(*a, text->count() > 0); };
}

}  // namespace

GLMQ_COMMAND(tokenize, "tokenize", "encode or decode text with a model's tokenizer", Setup);

}  // namespace glmq::tools
