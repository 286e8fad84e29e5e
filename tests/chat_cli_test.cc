// glmq generate / tokenize / eval as users call them, end to end on the
// tiny fixtures: the chat conversation flags in command-line order, the
// default prefix, special-token text kept plain unless --special,
// --messages files, --interactive reusing the KV cache, --tokenizer from a
// folder, a file or a .glmq, and a synthetic model given a real tokenizer.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/cli_util.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kShared = GLMQ_SHARED_DIR;
const std::string kModels = kShared + "/fixtures/models";

class ChatCli : public ::testing::Test {
 protected:
  // One folder per test process, with the two fixtures converted once.
  static void SetUpTestSuite() {
    dir_ = new std::string(
        (fs::temp_directory_path() / absl::StrCat("glmq_chat_cli_", ::getpid())).string());
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    for (const char* m : {"glm4-tiny-chat", "glm4-tiny-chat-hf"}) {
      const auto r = testing::RunGlmq(
          absl::StrCat("convert ", kModels, "/", m, " -o ", *dir_, "/", m, ".glmq"));
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }
  static std::string Model(const std::string& m) { return Path(m + ".glmq"); }
  static std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
    return Path(name);
  }

  // The ids of the "prompt ids:" line --show-prompt prints.
  static std::vector<int32_t> PromptIds(const std::string& output) {
    std::vector<int32_t> ids;
    const size_t at = output.find("prompt ids: ");
    if (at == std::string::npos) return ids;
    const std::string line = output.substr(at + 12, output.find('\n', at) - at - 12);
    for (absl::string_view s : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      int32_t id;
      if (absl::SimpleAtoi(s, &id)) ids.push_back(id);
    }
    return ids;
  }

  static std::unique_ptr<Tokenizer> FixtureTokenizer(const std::string& m) {
    auto t = Tokenizer::FromDir(kModels + "/" + m);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  }

  static std::string* dir_;
};

std::string* ChatCli::dir_ = nullptr;

TEST_F(ChatCli, PlainPromptGetsTheTokenizersPrefix) {
  auto tok = FixtureTokenizer("glm4-tiny-chat");
  const auto r = testing::RunGlmq("generate " + Model("glm4-tiny-chat") +
                                  " --prompt Hello -n 0 --show-prompt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<int32_t> want = {4098, 4100};  // [gMASK]<sop>, as tokenizer.encode
  for (int32_t id : tok->Encode("Hello")) want.push_back(id);
  EXPECT_EQ(PromptIds(r.output), want);
  const auto bare = testing::RunGlmq("generate " + Model("glm4-tiny-chat") +
                                     " --prompt Hello -n 0 --show-prompt --no-prefix");
  ASSERT_EQ(bare.exit_code, 0) << bare.output;
  EXPECT_EQ(PromptIds(bare.output), tok->Encode("Hello"));
  // A prompt that spells the prefix out with --special gets it once.
  const auto spelled = testing::RunGlmq("generate " + Model("glm4-tiny-chat") +
                                        " --prompt '[gMASK]<sop>Hello' --special -n 0 "
                                        "--show-prompt");
  EXPECT_EQ(PromptIds(spelled.output), want);
}

TEST_F(ChatCli, TurnsFollowTheCommandLineOrder) {
  auto tok = FixtureTokenizer("glm4-tiny-chat");
  const auto r = testing::RunGlmq("generate " + Model("glm4-tiny-chat") +
                                  " --system 'Be brief.' --user 'Hi' --assistant 'Hello.' "
                                  "--user 'What is life?' -n 2 --show-prompt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto want = tok->EncodeChat({{"system", "Be brief."},
                               {"user", "Hi"},
                               {"assistant", "Hello."},
                               {"user", "What is life?"}});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(PromptIds(r.output), *want);
  EXPECT_THAT(r.output, HasSubstr("<|user|>\nHi<|assistant|>\nHello.<|user|>\nWhat is life?"));
  // --prompt with --chat is a user turn where it stands.
  const auto p = testing::RunGlmq("generate " + Model("glm4-tiny-chat") +
                                  " --chat --system 'Be brief.' --prompt 'Hi' -n 0 --show-prompt");
  EXPECT_EQ(PromptIds(p.output), *tok->EncodeChat({{"system", "Be brief."}, {"user", "Hi"}}));
  const auto ends =
      testing::RunGlmq("generate " + Model("glm4-tiny-chat") + " --user Hi --assistant Hello -n 1");
  EXPECT_EQ(ends.exit_code, 1);
  EXPECT_THAT(ends.output, HasSubstr("ends with a user or observation turn"));
}

TEST_F(ChatCli, SpecialTokenTextInUserTurnsStaysTextUnlessSpecial) {
  const std::string args = "generate " + Model("glm4-tiny-chat") +
                           " --user 'x<|assistant|>y<|system|>z' -n 0 --show-prompt";
  const auto plain = testing::RunGlmq(args);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  const std::vector<int32_t> a = PromptIds(plain.output);
  EXPECT_EQ(std::count(a.begin(), a.end(), 4104), 1);  // <|assistant|>: the generation prompt
  EXPECT_EQ(std::count(a.begin(), a.end(), 4102), 0);  // <|system|>
  const std::vector<int32_t> b = PromptIds(testing::RunGlmq(args + " --special").output);
  EXPECT_EQ(std::count(b.begin(), b.end(), 4104), 2);
  EXPECT_EQ(std::count(b.begin(), b.end(), 4102), 1);
  // The plain --prompt path too.
  const auto p = testing::RunGlmq("generate " + Model("glm4-tiny-chat") +
                                  " --prompt '<|user|>' -n 0 --show-prompt");
  const std::vector<int32_t> c = PromptIds(p.output);
  EXPECT_EQ(std::count(c.begin(), c.end(), 4103), 0);
}

TEST_F(ChatCli, MessagesFileWithAToolTurn) {
  auto tok = FixtureTokenizer("glm4-tiny-chat-hf");
  const std::string conv = R"([
    {"role": "system", "content": "You can look up the weather."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "metadata": "get_weather", "content": "{\"city\": \"Paris\"}"},
    {"role": "observation", "content": "{\"temp\": 21}"}])";
  const std::string file = Write("tool.json", conv);
  const auto r = testing::RunGlmq("generate " + Model("glm4-tiny-chat-hf") + " --messages " + file +
                                  " -n 0 --show-prompt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto parsed = ParseConversation(conv, "tool.json");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(PromptIds(r.output), *tok->EncodeChat(*parsed));
  EXPECT_THAT(r.output, HasSubstr("<|observation|>\n{\"temp\": 21}<|assistant|>\n"));
  const std::string bad = Write("bad.json", R"([{"role": "tool", "content": "x"}])");
  const auto e = testing::RunGlmq("generate " + Model("glm4-tiny-chat-hf") + " --messages " + bad);
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_THAT(e.output, HasSubstr(bad + ": messages[0]: role 'tool' is not one of GLM-4's"));
}

// "prompt N tokens (M reused)" of each reply, in order.
std::vector<std::pair<int64_t, int64_t>> PromptStats(const std::string& output) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const std::regex re("prompt (\\d+) tokens \\((\\d+) reused\\)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), re);
       it != std::sregex_iterator(); ++it) {
    out.emplace_back(std::stoll((*it)[1]), std::stoll((*it)[2]));
  }
  return out;
}

TEST_F(ChatCli, InteractiveReusesTheCacheAndPrefillsOnlyTheNewTurn) {
  auto tok = FixtureTokenizer("glm4-tiny-chat-hf");
  const std::string input = Write("turns.txt",
                                  "Hello there\nWhat is the meaning of life?\n"
                                  "/reset\nHello there\n");
  const auto r = testing::RunGlmq("generate " + Model("glm4-tiny-chat-hf") +
                                  " -i --system 'Be brief.' -n 12 < " + input);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto stats = PromptStats(r.output);
  ASSERT_EQ(stats.size(), 3u) << r.output;
  const int64_t first = static_cast<int64_t>(
      tok->EncodeChat({{"system", "Be brief."}, {"user", "Hello there"}})->size());
  EXPECT_EQ(stats[0], std::make_pair(first, int64_t{0}));
  // Turn 2 reuses turn 1's prompt and the reply (its last token unless the
  // reply ended at an eos) and prefills "<|user|>\n...<|assistant|>\n".
  const int64_t new_turn =
      3 + static_cast<int64_t>(tok->Encode("\nWhat is the meaning of life?").size());
  EXPECT_GT(stats[1].second, first);
  EXPECT_GE(stats[1].first - stats[1].second, new_turn);
  EXPECT_LE(stats[1].first - stats[1].second, new_turn + 1);
  // After /reset: the first prompt again, nothing reused.
  EXPECT_EQ(stats[2], std::make_pair(first, int64_t{0}));
}

TEST_F(ChatCli, TokenizeReadsFilesStdinAndTokenizerFiles) {
  const std::string valid = kShared + "/fixtures/text/valid.txt";  // 234 KB: over ARG_MAX's 128 KB
  const auto r = testing::RunGlmqStdout("tokenize --tokenizer " + Model("glm4-tiny-chat") +
                                        " --file " + valid);
  ASSERT_EQ(r.exit_code, 0);
  std::vector<std::string> ids =
      absl::StrSplit(r.output, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  EXPECT_EQ(ids.size(), 76081u);  // fixtures/reference/valid_tokens.npy
  const auto piped =
      testing::RunGlmqStdout("tokenize --tokenizer " + kModels + "/glm4-tiny-chat < " + valid);
  EXPECT_EQ(piped.output, r.output);
  // The real tokenizer.model alone, with the default prefix: the "with prefix" golden vector.
  const auto real = testing::RunGlmqStdout("tokenize --tokenizer " + kShared +
                                           "/reference/tokenizer/glm-4/tokenizer.model --prefix "
                                           "--text 你好");
  EXPECT_EQ(real.output, "151331 151333 109377\n");
  const auto none =
      testing::RunGlmq("tokenize --tokenizer " + kShared + "/fixtures/text/valid.txt");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.output, HasSubstr("not a tokenizer"));
}

TEST_F(ChatCli, ModelsWithoutATokenizerTakeOne) {
  const std::string synth = Path("synth"), glmq = Path("synth.glmq");
  auto r = testing::RunGlmq("synth --config " + kModels + "/glm4-tiny-chat/config.json -o " +
                            synth + " --layers 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(testing::RunGlmq("convert " + synth + " -o " + glmq).exit_code, 0);
  r = testing::RunGlmq("generate " + glmq + " --prompt Hi -n 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("has no embedded tokenizer"));
  EXPECT_THAT(r.output, HasSubstr("--tokenizer"));
  for (const std::string& t :
       {kModels + "/glm4-tiny-chat", kModels + "/glm4-tiny-chat/tokenizer.model",
        Model("glm4-tiny-chat")}) {
    r = testing::RunGlmq("generate " + glmq + " --tokenizer " + t + " --user Hi -n 2");
    EXPECT_EQ(r.exit_code, 0) << t << ": " << r.output;
  }
  r = testing::RunGlmqStdout("eval ppl " + glmq + " --tokenizer " + kModels +
                             "/glm4-tiny-chat --text " + kShared +
                             "/fixtures/text/valid.txt --max-windows 1 --ctx 64 --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"ppl\""));
  for (const std::string& t : {Model("glm4-tiny-chat"), kModels + "/glm4-tiny-chat/tokenizer.model"}) {
    r = testing::RunGlmq("calibrate " + glmq + " --tokenizer " + t + " --text " + kShared +
                         "/fixtures/text/valid.txt --windows 2 --ctx 64 -o " + Path("s.stats"));
    EXPECT_EQ(r.exit_code, 0) << t << ": " << r.output;
  }
  // GLM-4's real tokenizer has far more ids than this model's embedding.
  r = testing::RunGlmq("generate " + glmq + " --tokenizer " + kShared +
                       "/reference/tokenizer/glm-4/tokenizer.model --prompt Hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("the tokenizer has 151343 tokens but the model's embedding"));
}

TEST_F(ChatCli, SynthAttachesARealTokenizer) {
  const std::string synth = Path("synth_tok"), glmq = Path("synth_tok.glmq");
  auto r = testing::RunGlmq("synth --config " + kModels + "/glm4-tiny-chat/config.json -o " +
                            synth + " --layers 1 --tokenizer " + kModels + "/glm4-tiny-chat");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(synth + "/tokenizer.model"));
  EXPECT_TRUE(fs::exists(synth + "/tokenizer_config.json"));
  EXPECT_TRUE(fs::exists(synth + "/generation_config.json"));
  ASSERT_EQ(testing::RunGlmq("convert " + synth + " -o " + glmq).exit_code, 0);
  r = testing::RunGlmq("generate " + glmq + " --user Hi -n 2 --show-prompt");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(PromptIds(r.output), *FixtureTokenizer("glm4-tiny-chat")->EncodeChat({{"user", "Hi"}}));
  r = testing::RunGlmq("synth --config " + kModels + "/glm4-tiny-chat/config.json -o " + synth +
                       " --tokenizer " + kModels + "/glm4-tiny-chat/config.json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("not a tokenizer file"));
}

TEST_F(ChatCli, EvalSpecialParsesSpecialTokenText) {
  const std::string text = Write(
      "special.txt", std::string(40, 'a') + "<|user|>hello<|assistant|>" + std::string(40, 'b'));
  auto tokens = [&](const std::string& extra) {
    const auto r = testing::RunGlmqStdout("eval ppl " + Model("glm4-tiny-chat") + " --text " +
                                          text + " --ctx 8 --json " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::smatch m;
    return std::regex_search(r.output, m, std::regex("\"tokens\": (\\d+)")) ? std::stoi(m[1]) : -1;
  };
  auto tok = FixtureTokenizer("glm4-tiny-chat");
  std::ifstream in(text);
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(tokens(""), static_cast<int>(tok->Encode(s, false).size()));
  EXPECT_EQ(tokens("--special"), static_cast<int>(tok->Encode(s, true).size()));
  EXPECT_LT(tokens("--special"), tokens(""));
}

}  // namespace
}  // namespace glmq
