// glmq generate MODEL --prompt TEXT: greedy (temp 0) or sampled text
// generation with the CPU runtime; stops at any eos id or after -n tokens.
// --chat: a conversation (--system, --user / --assistant in command-line
// order, --messages FILE.json) rendered with the model's chat template;
// --interactive keeps it going on the terminal. docs/chat.md.
#include "runtime/generate.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/ascii.h"
#include "core/file.h"
#include "core/status.h"
#include "runtime/chat_session.h"
#include "runtime/loaded_model.h"
#include "runtime/vision/multimodal.h"
#include "tools/command.h"
#include "tools/session_flags.h"

namespace glmq::tools {
namespace {

struct GenArgs {
  std::string model, prompt, tokenizer, messages;
  std::vector<std::string> system, user, assistant, images;
  bool chat = false, interactive = false, special = false, no_prefix = false;
  bool show_prompt = false, no_verify = false;
  SamplerOptions sampler;
  int64_t n = 128, ctx = 0;
  int threads = 0;
  SessionFlags session;
  // Set after parsing: --system/--user/--assistant/--prompt in command-line order.
  std::vector<std::pair<std::string, std::string>> turns;
};

std::atomic<bool> g_stop{false};

void OnInterrupt(int) { g_stop.store(true); }

void Print(absl::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void PrintStats(const GenerateResult& r, int64_t prompt, int64_t reused, const Model& m) {
  std::fprintf(stderr,
               "prompt %lld tokens (%lld reused) in %.3f s (%.2f tok/s); %zu tokens generated "
               "in %.3f s (%.2f tok/s) on %s; stop: %s\n",
               static_cast<long long>(prompt), static_cast<long long>(reused), r.prefill_seconds,
               r.prefill_seconds > 0 ? (prompt - reused) / r.prefill_seconds : 0.0,
               r.tokens.size(), r.decode_seconds,
               r.tokens.empty() ? 0.0 : r.tokens.size() / r.decode_seconds,
               m.backend().name().c_str(), StopReasonName(r.reason));
}

void ShowPrompt(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::fprintf(stderr, "prompt (%zu tokens): %s\nprompt ids: %s\n", ids.size(),
               tok.Decode(ids).c_str(), absl::StrJoin(ids, " ").c_str());
}

// --image: the images' slots inserted into the prompt ids, the images
// encoded and spliced in, the whole prompt prefilled as one sequence.
absl::Status RunWithImages(const GenArgs& a, LoadedModel& lm, Session& s,
                           const std::vector<int32_t>& prompt) {
  const Tokenizer& tok = *lm.tokenizer;
  const pb::HParams& hp = lm.model->hparams();
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<ImageEncoder> enc, ImageEncoder::Create(*lm.model));
  std::vector<ImageEmbeds> images;
  for (const std::string& path : a.images) {
    GLMQ_ASSIGN_OR_RETURN(ImageEmbeds e, enc->EncodeFile(path));
    images.push_back(std::move(e));
  }
  const std::vector<int32_t> ids = InsertImageSlots(hp, tok, prompt, images);
  if (a.show_prompt) ShowPrompt(tok, ids);
  GLMQ_ASSIGN_OR_RETURN(SplicedSequence seq, BuildSequence(hp, ids, images));
  Sampler sampler(a.sampler, SampleVocab(tok, hp));
  GenerateOptions go;
  go.max_new_tokens = a.n;
  go.sequence = &seq;
  GLMQ_ASSIGN_OR_RETURN(GenerateResult r, Generate(s, tok, sampler, ids, go, Print));
  Print("\n");
  PrintStats(r, seq.size(), 0, *lm.model);
  return absl::OkStatus();
}

absl::Status RunPlain(const GenArgs& a, LoadedModel& lm, Session& s) {
  const Tokenizer& tok = *lm.tokenizer;
  const std::vector<int32_t> ids =
      a.no_prefix ? tok.Encode(a.prompt, a.special) : tok.EncodeWithPrefix(a.prompt, a.special);
  if (!a.images.empty()) return RunWithImages(a, lm, s, ids);
  if (a.show_prompt) ShowPrompt(tok, ids);
  Sampler sampler(a.sampler, SampleVocab(tok, lm.model->hparams()));
  GenerateOptions go;
  go.max_new_tokens = a.n;
  Print(a.prompt);
  GLMQ_ASSIGN_OR_RETURN(GenerateResult r, Generate(s, tok, sampler, ids, go, Print));
  Print("\n");
  PrintStats(r, static_cast<int64_t>(ids.size()), 0, *lm.model);
  return absl::OkStatus();
}

// One reply to the conversation as it stands; false when it ended with
// nothing generated because of Ctrl-C.
absl::StatusOr<bool> ReplyOnce(const GenArgs& a, ChatSession& chat, Sampler& sampler,
                               const Model& model) {
  GenerateOptions go;
  go.max_new_tokens = a.n;
  go.stop = a.interactive ? &g_stop : nullptr;
  GLMQ_ASSIGN_OR_RETURN(GenerateResult r, chat.Reply(sampler, go, Print));
  Print("\n");
  if (r.reason == StopReason::kInterrupted) std::fprintf(stderr, "[reply stopped]\n");
  PrintStats(r, chat.prompt_tokens(), chat.reused_tokens(), model);
  return !r.tokens.empty() || r.reason != StopReason::kInterrupted;
}

// Reads a turn: one line, or several joined where a line ends in "\".
// nullopt at end of input; "" after Ctrl-C.
std::optional<std::string> ReadTurn() {
  std::string turn;
  char* line = nullptr;
  size_t cap = 0;
  while (true) {
    if (isatty(STDIN_FILENO)) std::fprintf(stderr, turn.empty() ? "> " : ". ");
    errno = 0;
    const ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
      const bool interrupted = errno == EINTR;
      std::clearerr(stdin);
      std::free(line);
      if (!interrupted) return std::nullopt;
      g_stop.store(false);
      std::fprintf(stderr, "\n");
      return std::string();
    }
    std::string s(line, n);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (!s.empty() && s.back() == '\\') {
      s.pop_back();
      turn += s + "\n";
      continue;
    }
    turn += s;
    std::free(line);
    return turn;
  }
}

// The number of user messages in c: the turn index a new user message gets.
int UserTurns(const Conversation& c) {
  int n = 0;
  for (const auto& m : c.messages) n += m["role"] == "user" ? 1 : 0;
  return n;
}

// Images of an interactive chat: encoded once, each attached to a user turn.
struct InteractiveImages {
  LoadedModel& lm;
  ChatImages images;
  std::unique_ptr<ImageEncoder> encoder;
  // Encodes `path` and attaches it to user turn `turn`; installs the
  // chat's sequence function with the first image.
  absl::Status Attach(const std::string& path, int turn, ChatSession& chat) {
    if (encoder == nullptr) {
      GLMQ_ASSIGN_OR_RETURN(encoder, ImageEncoder::Create(*lm.model));
    }
    GLMQ_ASSIGN_OR_RETURN(ImageEmbeds e, encoder->EncodeFile(path));
    images.Add(std::move(e), turn);
    chat.set_sequence_fn([this](const std::vector<int32_t>& ids) { return images.Sequence(ids); });
    return absl::OkStatus();
  }
};

absl::Status RunInteractive(const GenArgs& a, ChatSession& chat, Sampler& sampler,
                            InteractiveImages& im) {
  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;  // no SA_RESTART: Ctrl-C also ends a pending read
  sigaction(SIGINT, &sa, nullptr);
  Conversation start;  // what /reset goes back to: the system messages
  for (const auto& m : chat.conversation().messages) {
    if (m["role"] == "system") start.messages.push_back(m);
  }
  std::fprintf(stderr,
               "chat: a line is a turn (end a line with \\ to go on); /image FILE shows an "
               "image with the next turn; /reset starts over, /exit or Ctrl-D ends; Ctrl-C "
               "stops a reply\n");
  while (true) {
    const auto& msgs = chat.conversation().messages;
    if (!msgs.empty() && (msgs.back()["role"] == "user" || msgs.back()["role"] == "observation")) {
      absl::StatusOr<bool> replied = ReplyOnce(a, chat, sampler, *im.lm.model);
      g_stop.store(false);
      if (!replied.ok() || !*replied) {
        if (!replied.ok())
          std::fprintf(stderr, "error: %s\n", std::string(replied.status().message()).c_str());
        chat.conversation().messages.erase(chat.conversation().messages.size() - 1);
      }
    }
    std::optional<std::string> turn = ReadTurn();
    if (!turn) break;
    if (turn->empty()) continue;
    if (*turn == "/exit" || *turn == "/quit") break;
    if (*turn == "/reset") {
      chat.Reset();
      chat.conversation() = start;
      im.images.Clear();
      chat.set_sequence_fn(nullptr);
      std::fprintf(stderr, "[conversation cleared]\n");
      continue;
    }
    if (absl::StartsWith(*turn, "/image ")) {
      const std::string path(absl::StripAsciiWhitespace(turn->substr(7)));
      const absl::Status st = im.Attach(path, UserTurns(chat.conversation()), chat);
      std::fprintf(stderr, st.ok() ? "[image %s: shown with the next turn]\n" : "error: %s\n",
                   st.ok() ? path.c_str() : std::string(st.message()).c_str());
      continue;
    }
    chat.conversation().Add("user", *turn);
  }
  return absl::OkStatus();
}

absl::Status RunChat(const GenArgs& a, LoadedModel& lm, Session& s) {
  const Tokenizer& tok = *lm.tokenizer;
  ChatEncodeOptions eo;
  eo.special_in_messages = a.special;
  ChatSession chat(&s, &tok, eo);
  if (!a.messages.empty()) {
    GLMQ_ASSIGN_OR_RETURN(std::string json, ReadFileToString(a.messages, InputKind::kJson));
    GLMQ_ASSIGN_OR_RETURN(chat.conversation(), ParseConversation(json, a.messages));
  }
  for (const auto& [role, text] : a.turns) chat.conversation().Add(role, text);
  const auto& msgs = chat.conversation().messages;
  if (!a.interactive &&
      (msgs.empty() || (msgs.back()["role"] != "user" && msgs.back()["role"] != "observation"))) {
    return absl::InvalidArgumentError(
        "--chat needs a conversation that ends with a user or observation turn (--user TEXT, "
        "--prompt TEXT or --messages FILE.json), or --interactive");
  }
  if (!a.images.empty() && !a.interactive) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<int32_t> ids, chat.PromptIds());
    return RunWithImages(a, lm, s, ids);
  }
  InteractiveImages im{lm, ChatImages(lm.model->hparams(), tok), nullptr};
  for (const std::string& path : a.images) {  // -i: shown with the first user turn
    GLMQ_RETURN_IF_ERROR(im.Attach(path, 0, chat));
  }
  if (a.show_prompt) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<int32_t> ids, chat.PromptIds());
    ShowPrompt(tok, ids);
  }
  Sampler sampler(a.sampler, SampleVocab(tok, lm.model->hparams()));
  if (a.interactive) return RunInteractive(a, chat, sampler, im);
  return ReplyOnce(a, chat, sampler, *lm.model).status();
}

// Sampling flags before the model loads: NaN or infinite --temp / --top-p
// would make every draw NaN; -n is bounded by any context a model has.
absl::Status CheckSamplerFlags(const GenArgs& a) {
  if (!std::isfinite(a.sampler.temperature) || a.sampler.temperature < 0) {
    return absl::InvalidArgumentError("--temp must be a finite number >= 0");
  }
  if (!(a.sampler.top_p > 0 && a.sampler.top_p <= 1)) {
    return absl::InvalidArgumentError("--top-p must be within (0, 1]");
  }
  if (a.n < 0 || a.n > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(absl::StrCat("-n ", a.n, " is not within 0..2^30"));
  }
  return absl::OkStatus();
}

absl::Status Run(GenArgs& a) {
  const bool chat = a.chat || a.interactive || !a.messages.empty() || !a.system.empty() ||
                    !a.user.empty() || !a.assistant.empty();
  if (!chat && a.prompt.empty()) {
    return absl::InvalidArgumentError("give --prompt TEXT, or a conversation (--chat)");
  }
  if (chat && a.no_prefix) {
    return absl::InvalidArgumentError(
        "--no-prefix is for plain --prompt text; a chat template writes its own prefix");
  }
  GLMQ_RETURN_IF_ERROR(CheckSamplerFlags(a));
  GLMQ_ASSIGN_OR_RETURN(const DeviceSpec device, ParseDevice(a.session.device));
  GLMQ_ASSIGN_OR_RETURN(LoadedModel lm,
                        LoadGlmqModel(a.model, a.threads, a.tokenizer, device, !a.no_verify));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> s,
                        NewSession(*lm.model, a.session, a.ctx, "--ctx", /*all_logits=*/false,
                                   /*fallback=*/4096));
  return chat ? RunChat(a, lm, *s) : RunPlain(a, lm, *s);
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<GenArgs>();
  sub->add_option("model", a->model, "model .glmq")->required();
  CLI::Option* prompt =
      sub->add_option("--prompt", a->prompt, "prompt text (with --chat: a user turn)");
  sub->add_flag("--chat", a->chat, "chat: render the conversation with the model's template");
  sub->add_option("--image", a->images,
                  "PNG or JPEG shown with the (last) user turn (-i: the first); repeatable "
                  "where the model takes several (vision models); in -i, /image FILE adds one "
                  "to the next turn");
  CLI::Option* system = sub->add_option("--system", a->system, "system message (chat)");
  CLI::Option* user = sub->add_option("--user", a->user, "a user turn; repeat, in order (chat)");
  CLI::Option* assistant =
      sub->add_option("--assistant", a->assistant, "an assistant turn; repeat, in order (chat)");
  for (CLI::Option* o : {system, user, assistant}) o->allow_extra_args(false);
  sub->add_option("--messages", a->messages,
                  "conversation file: a JSON list of {role, content, ...} (OpenAI / transformers "
                  "format; roles system, user, assistant, observation), or {messages, tools}");
  sub->add_flag("-i,--interactive", a->interactive,
                "chat on the terminal: one line per turn, history kept, the KV cache reused");
  sub->add_flag("--special", a->special,
                "special-token strings in the prompt / messages become special tokens (default: "
                "plain text)");
  sub->add_flag("--no-prefix", a->no_prefix,
                "plain --prompt without the tokenizer's prefix ([gMASK]<sop> for GLM-4)");
  sub->add_option("--tokenizer", a->tokenizer,
                  "tokenizer instead of the embedded one: HF folder, tokenizer.model, "
                  "tokenizer.json or .glmq");
  sub->add_flag("--show-prompt", a->show_prompt, "print the prompt text and ids to stderr");
  sub->add_option("--temp", a->sampler.temperature, "sampling temperature (0 = greedy, default)");
  sub->add_option("--top-p", a->sampler.top_p, "nucleus sampling mass (default 1 = off)");
  sub->add_option("-n", a->n, "maximum new tokens per reply (default 128)");
  sub->add_option("--seed", a->sampler.seed, "random seed for sampling");
  sub->add_option("--ctx", a->ctx,
                  "context size (default: 4096, or the model's if smaller; at most the model's "
                  "without --ctx-override); the KV cache grows with the tokens up to it");
  AddSessionFlags(sub, &a->session);
  sub->add_option("-t,--threads", a->threads, "threads (default: all)");
  sub->add_flag("--no-verify", a->no_verify, "skip the checksums of the model's tensors at load");
  return [a, sub, prompt, system, user, assistant]() {
    // The turns in command-line order: parse_order() lists each value's option.
    size_t next[4] = {0, 0, 0, 0};
    for (const CLI::Option* o : sub->parse_order()) {
      if (o == system) a->turns.emplace_back("system", a->system[next[0]++]);
      if (o == user) a->turns.emplace_back("user", a->user[next[1]++]);
      if (o == assistant) a->turns.emplace_back("assistant", a->assistant[next[2]++]);
      if (o == prompt && next[3]++ == 0) a->turns.emplace_back("user", a->prompt);
    }
    return Run(*a);
  };
}

GLMQ_COMMAND(generate, "generate", "generate text or chat (CPU or CUDA runtime)", Setup);

}  // namespace
}  // namespace glmq::tools
