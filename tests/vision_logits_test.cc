// Both vision fixtures end to end against the reference (img1): convert,
// load the .glmq, decode + preprocess the PNG, encode, splice, and run the
// text model: positions exactly equal, logits of every row within 2e-4,
// KV-cached decode after the image equal to the full forward. Errors: more
// images than slots, an image for a text-only model. Also `glmq logits`.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/convert.h"
#include "runtime/chat_session.h"
#include "runtime/loaded_model.h"
#include "runtime/vision/multimodal.h"
#include "tests/cli_util.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kShared = GLMQ_SHARED_DIR;
const std::string kModels = kShared + "/fixtures/models/";
const std::string kRef = kShared + "/fixtures/reference/";

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double{a[i]} - b[i]));
  return m;
}

class VisionLogits : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / absl::StrCat("glmq_vision_logits_", ::getpid())).string();
    fs::create_directories(dir_);
    path_ = dir_ + "/" + GetParam() + ".glmq";
    auto s = ConvertHfToGlmq(kModels + GetParam(), path_, ConvertOptions{});
    ASSERT_TRUE(s.ok()) << s.status();
    auto lm = LoadGlmqModel(path_, 2);
    ASSERT_TRUE(lm.ok()) << lm.status();
    lm_ = std::move(*lm);
    auto enc = ImageEncoder::Create(*lm_.model);
    ASSERT_TRUE(enc.ok()) << enc.status();
    auto e = (*enc)->EncodeFile(Ref("img1.png"));
    ASSERT_TRUE(e.ok()) << e.status();
    image_ = std::move(*e);
    auto ids = ReadNpyI32(Ref("img1.ids.npy"));
    ASSERT_TRUE(ids.ok()) << ids.status();
    ids_ = *ids;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Ref(const std::string& what) const { return kRef + GetParam() + "." + what; }
  std::unique_ptr<Session> NewSession() {
    SessionOptions so;
    so.max_context = 64;
    return Session::Create(lm_.model.get(), so).value();
  }
  std::string dir_, path_;
  LoadedModel lm_;
  ImageEmbeds image_;
  std::vector<int32_t> ids_;
};

TEST_P(VisionLogits, PositionsAndLogitsMatchTheReference) {
  const pb::HParams& hp = lm_.model->hparams();
  auto seq = BuildSequence(hp, ids_, {image_});
  ASSERT_TRUE(seq.ok()) << seq.status();
  auto ref_pos32 = ReadNpyI32(Ref("img1.positions.npy"));
  ASSERT_TRUE(ref_pos32.ok()) << ref_pos32.status();
  const std::vector<int64_t> ref_pos(ref_pos32->begin(), ref_pos32->end());
  const bool v41 = hp.layout() == pb::LAYOUT_GLM4V;
  const std::vector<int64_t> got(seq->positions.begin(),
                                 seq->positions.begin() + (v41 ? 3 : 1) * seq->size());
  EXPECT_EQ(got, ref_pos);
  auto logits = RunSequence(NewSession().get(), *seq, ForwardOutput::kAllLogits);
  ASSERT_TRUE(logits.ok()) << logits.status();
  auto ref = ReadNpyF32(Ref("img1.logits.npy"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->shape.at(0), seq->size());
  const double diff = MaxDiff(*logits, ref->data);
  std::printf("%s img1: %lld rows, logits max|diff| %.3g vs the reference\n", GetParam(),
              static_cast<long long>(seq->size()), diff);
  EXPECT_LE(diff, 2e-4);
}

// Prefill the prompt without its last 3 tokens (image included), then decode
// them one by one: the same logits as the full forward's last rows.
TEST_P(VisionLogits, CachedDecodeAfterTheImageEqualsFullForward) {
  const pb::HParams& hp = lm_.model->hparams();
  const int64_t vocab = hp.padded_vocab_size();
  auto full_seq = BuildSequence(hp, ids_, {image_});
  ASSERT_TRUE(full_seq.ok());
  auto full = RunSequence(NewSession().get(), *full_seq, ForwardOutput::kAllLogits);
  ASSERT_TRUE(full.ok()) << full.status();
  const std::vector<int32_t> head(ids_.begin(), ids_.end() - 3);
  auto seq = BuildSequence(hp, head, {image_});
  ASSERT_TRUE(seq.ok());
  auto session = NewSession();
  ASSERT_TRUE(session->ForwardSpliced(*seq, ForwardOutput::kNone, nullptr).ok());
  double diff = 0;
  for (int k = 3; k >= 1; --k) {
    std::vector<float> row;
    const int32_t id = ids_[ids_.size() - k];
    ASSERT_TRUE(session->Forward({&id, 1}, ForwardOutput::kLastLogits, &row).ok());
    const int64_t r = full_seq->size() - k;
    diff = std::max(diff, MaxDiff(row, std::vector<float>(full->begin() + r * vocab,
                                                          full->begin() + (r + 1) * vocab)));
  }
  std::printf("%s img1: cached decode vs full forward max|diff| %.3g\n", GetParam(), diff);
  EXPECT_LE(diff, 1e-4);
}

TEST_P(VisionLogits, SlotsAndImagesMustAgree) {
  const pb::HParams& hp = lm_.model->hparams();
  EXPECT_THAT(std::string(BuildSequence(hp, ids_, {image_, image_}).status().message()),
              HasSubstr("2 image(s) given but the prompt has 1 image slot(s)"));
  EXPECT_THAT(std::string(BuildSequence(hp, ids_, {}).status().message()),
              HasSubstr("0 image(s) given"));
}

TEST_P(VisionLogits, LogitsCommandWritesTheSplicedRows) {
  const std::string out = dir_ + "/logits.npy";
  auto r = testing::RunGlmq(absl::StrCat("logits ", path_, " --ids ", Ref("img1.ids.npy"),
                                         " --image ", Ref("img1.png"), " -o ", out, " -t 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto got = ReadNpyF32(out);
  auto ref = ReadNpyF32(Ref("img1.logits.npy"));
  ASSERT_TRUE(got.ok() && ref.ok());
  EXPECT_EQ(got->shape, ref->shape);
  EXPECT_LE(MaxDiff(got->data, ref->data), 2e-4);
  r = testing::RunGlmq(absl::StrCat("logits ", path_, " --ids ", Ref("img1.ids.npy"), " --pixels ",
                                    Ref("img1.pixel_values.npy"), " --grid 6x8 --last 1 -o ", out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  got = ReadNpyF32(out);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->shape, (std::vector<int64_t>{1, ref->shape[1]}));
}

// An image per chat turn (glmq generate -i): the first turn's sequence is
// the one-shot --image sequence; a second image lands after the second
// <|user|>; both replies run.
TEST_P(VisionLogits, ChatTakesAnImagePerTurn) {
  const pb::HParams& hp = lm_.model->hparams();
  const Tokenizer& tok = *lm_.tokenizer;
  SessionOptions so;
  so.max_context = 256;
  auto session = Session::Create(lm_.model.get(), so);
  ASSERT_TRUE(session.ok()) << session.status();
  ChatSession chat(session->get(), &tok, ChatEncodeOptions{});
  ChatImages images(hp, tok);
  chat.conversation().Add("user", "What is in it?");
  images.Add(image_, 0);
  chat.set_sequence_fn([&](const std::vector<int32_t>& ids) { return images.Sequence(ids); });
  auto ids = chat.PromptIds();
  ASSERT_TRUE(ids.ok()) << ids.status();
  auto seq = images.Sequence(*ids);
  auto one_shot = BuildSequence(hp, InsertImageSlots(hp, tok, *ids, {image_}), {image_});
  ASSERT_TRUE(seq.ok() && one_shot.ok()) << seq.status() << one_shot.status();
  EXPECT_EQ(seq->ids, one_shot->ids);
  EXPECT_EQ(seq->positions, one_shot->positions);
  Sampler greedy(SamplerOptions{}, SampleVocab(tok, hp));
  GenerateOptions go;
  go.max_new_tokens = 3;
  auto r = chat.Reply(greedy, go, [](absl::string_view) {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(chat.prompt_tokens(), seq->size());

  if (chat.conversation().messages.size() < 2) chat.conversation().Add("assistant", "x");
  chat.conversation().Add("user", "And this one?");
  images.Add(image_, 1);
  ids = chat.PromptIds();
  ASSERT_TRUE(ids.ok());
  auto with = InsertImageSlotsAtTurns(hp, tok, *ids, {image_, image_}, {0, 1});
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(CountImageSlots(hp, *with), 2);
  const int32_t user = *tok.SpecialTokenId("<|user|>");
  const int32_t boi = static_cast<int32_t>(hp.vision().image_start_token_id());
  std::vector<int32_t> marks;  // user markers and image starts in order
  for (int32_t id : *with) {
    if (id == user || id == boi) marks.push_back(id);
  }
  EXPECT_EQ(marks, (std::vector<int32_t>{user, boi, user, boi}));
  r = chat.Reply(greedy, go, [](absl::string_view) {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(InsertImageSlotsAtTurns(hp, tok, *ids, {image_}, {5}).ok());

  // The same on the command line: /image FILE, then the turn.
  const std::string turns = dir_ + "/turns.txt";
  {
    std::ofstream f(turns);
    f << "/image " << Ref("img1.png") << "\nWhat is in it?\n/image " << Ref("img1.png")
      << "\nAnd this?\n";
  }
  const auto cli = testing::RunGlmq(absl::StrCat("generate ", path_, " -i -n 2 -t 2 < ", turns));
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_THAT(cli.output, HasSubstr("shown with the next turn"));
  EXPECT_THAT(cli.output, ::testing::Not(HasSubstr("error")));
}

// The ids `glmq generate --show-prompt` printed.
std::vector<int32_t> PromptIds(const std::string& output) {
  std::vector<int32_t> ids;
  const size_t at = output.find("prompt ids: ");
  if (at == std::string::npos) return ids;
  std::istringstream in(output.substr(at + 12, output.find('\n', at) - at - 12));
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// GLM-4.1V's chat template writes "<|user|>{{ '\n' }}" before the content
// (the newline is an expression, so the following "{%-" does not strip it)
// and the processor's ids for img1 have that newline. glm41v-tiny's
// tokenizer_config.json template writes a literal "\n" there, which "{%-"
// strips (Jinja2 with transformers' settings renders "<|user|>Describe...").
// glmq renders the template a checkpoint carries: with the real form (as a
// chat_template.jinja, which transformers' newer checkpoints ship and which
// wins over tokenizer_config.json) the --image prompt is exactly img1's ids.
constexpr char kGlm41vUserTurns[] =
    "[gMASK]<sop>\n"
    "{%- for msg in messages %}\n"
    "{%- if msg.role == 'system' %}\n<|system|>\n{{ msg.content }}\n"
    "{%- elif msg.role == 'user' %}\n<|user|>{{ '\\n' }}\n"
    "{%- if msg.content is string %}\n{{ msg.content }}\n"
    "{%- else %}\n{%- for item in msg.content %}\n"
    "{%- if item.type == 'image' or 'image' in item %}\n<|begin_of_image|><|image|><|end_of_image|>\n"
    "{%- elif item.type == 'text' %}\n{{ item.text }}\n"
    "{%- endif %}\n{%- endfor %}\n{%- endif %}\n"
    "{%- elif msg.role == 'assistant' %}\n<|assistant|>\n{{ msg.content }}\n"
    "{%- endif %}\n{%- endfor %}\n"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

TEST(VisionChatTemplate, Glm41vImagePromptEqualsTheProcessorIds) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("glmq_v41_tpl_", ::getpid());
  const fs::path src = fs::path(kModels) / "glm41v-tiny";
  fs::create_directories(dir / "real");
  for (const auto& e : fs::directory_iterator(src)) {
    fs::copy_file(e.path(), dir / "real" / e.path().filename());
  }
  std::ofstream(dir / "real" / "chat_template.jinja") << kGlm41vUserTurns;
  auto golden = ReadNpyI32(kRef + "glm41v-tiny.img1.ids.npy");
  ASSERT_TRUE(golden.ok()) << golden.status();
  const std::string args = absl::StrCat(" --chat --user 'Describe this image.' --image ", kRef,
                                        "glm41v-tiny.img1.png --show-prompt -n 1 -t 2");
  for (const char* which : {"real", "fixture"}) {
    const std::string model = (dir / absl::StrCat(which, ".glmq")).string();
    const std::string from = std::string(which) == "real" ? (dir / "real").string() : src.string();
    const auto converted = ConvertHfToGlmq(from, model, ConvertOptions{});
    ASSERT_TRUE(converted.ok()) << converted.status();
    const auto r = testing::RunGlmq("generate " + model + args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<int32_t> want = *golden;
    if (std::string(which) == "fixture") want.erase(want.begin() + 3);  // no "\n" after <|user|>
    EXPECT_EQ(PromptIds(r.output), want) << which << ": " << r.output;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VisionLogits, ::testing::Values("glm4v-tiny", "glm41v-tiny"));

TEST(VisionLogitsErrors, ImageForATextOnlyModel) {
  const std::string dir =
      (fs::temp_directory_path() / absl::StrCat("glmq_vision_text_", ::getpid())).string();
  fs::create_directories(dir);
  ASSERT_TRUE(ConvertHfToGlmq(kModels + "glm4-tiny-chat", dir + "/t.glmq", ConvertOptions{}).ok());
  auto r = testing::RunGlmq(absl::StrCat("logits ", dir, "/t.glmq --ids ", kRef,
                                         "glm4v-tiny.img1.ids.npy --image ", kRef,
                                         "glm4v-tiny.img1.png -o ", dir, "/l.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("text-only model"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace glmq
