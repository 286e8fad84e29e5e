// Regression tests of the input campaign (issue "Hardening"): inputs that
// are not regular files, config values past every physical limit, JSON
// that does not parse into numbers, duplicate keys, malformed tokenizer
// files and non-finite weights. Every case must end in a clean error (exit
// code 1, a message naming the file and field) within the time limit.
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "tests/hardening_util.h"

namespace glmq::testing {
namespace {

using ::testing::HasSubstr;

class Inputs : public Hardening {};

TEST_F(Inputs, FifoOrDeviceInsteadOfAFileIsRefusedWithoutBlocking) {
  struct Case {
    std::string file;  // in the checkpoint folder
    bool fifo;         // else a symlink to /dev/zero
  };
  for (const Case& c : {Case{"model-00001-of-00002.safetensors", true},
                        Case{"model-00001-of-00002.safetensors", false},
                        Case{"config.json", true}, Case{"config.json", false},
                        Case{"tokenizer.model", true}, Case{"tokenizer.model", false},
                        Case{"tokenizer_config.json", true}}) {
    SCOPED_TRACE(c.file + (c.fifo ? " fifo" : " /dev/zero"));
    const std::string dir = CopyFixture("hf_" + std::to_string(c.fifo) + c.file);
    const std::string path = dir + "/" + c.file;
    fs::remove(path);
    if (c.fifo) ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    else fs::create_symlink("/dev/zero", path);
    // A shard symlinked to /dev/zero is already refused as leaving the folder.
    const bool shard = c.file.find("safetensors") != std::string::npos;
    EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("out.glmq"), 30),
                       c.fifo  ? "is a FIFO, not a regular file"
                       : shard ? "resolves to /dev/zero, outside the checkpoint folder"
                               : "is a character device, not a regular file");
    if (c.file == "config.json") {
      EXPECT_CLEAN_ERROR(Glmq("plan " + dir, 30), "not a regular file");
    }
  }
  const std::string fifo = Path("text.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& text : {fifo, std::string("/dev/zero")}) {
    EXPECT_CLEAN_ERROR(Glmq("eval ppl " + Q() + " --text " + text, 30), "not a regular file");
    EXPECT_CLEAN_ERROR(Glmq("calibrate " + M() + " --text " + text + " -o " + Path("s"), 30),
                       "not a regular file");
  }
  EXPECT_FALSE(fs::exists(Path("out.glmq")));
}

TEST_F(Inputs, NumbersOutOfRangeInConfigAreErrorsNamingTheField) {
  struct Case {
    std::string from, to;  // text replaced in config.json
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"\"layernorm_epsilon\": 1.5625e-07", "\"layernorm_epsilon\": 1e400", "config.json"},
      {"\"num_layers\": 4", "\"num_layers\": 1000000000", "'num_layers' is 1000000000, over the limit of 1024"},
      {"\"num_layers\": 4", "\"num_layers\": 1099511627776", "over the limit of 1024"},
      {"\"kv_channels\": 32", "\"kv_channels\": 4611686018427387904", "'kv_channels' is 4611686018427387904"},
      {"\"ffn_hidden_size\": 640", "\"ffn_hidden_size\": 9223372036854775807", "over the limit"},
      {"\"hidden_size\": 256", "\"hidden_size\": 18446744073709551615", "18446744073709551615, beyond the 64-bit"},
      {"\"seq_length\": 8192", "\"seq_length\": 4e18", "'seq_length' is 4000000000000000000, over the limit"},
      {"\"padded_vocab_size\": 4160", "\"padded_vocab_size\": -5", "must be positive, got -5"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.to);
    const std::string dir = CopyFixture("hf");
    std::ifstream in(dir + "/config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The fixture's num_hidden_layers mirrors num_layers: drop it.
    text = absl::StrReplaceAll(text, {{"\"num_hidden_layers\": 4,", ""}});
    ASSERT_NE(text.find(c.from), std::string::npos);
    WriteText(dir + "/config.json", absl::StrReplaceAll(text, {{c.from, c.to}}));
    EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("out.glmq"), 20), c.needle);
    EXPECT_CLEAN_ERROR(Glmq("plan " + dir + "/config.json", 20), c.needle);
    EXPECT_CLEAN_ERROR(Glmq("quantize " + dir + " -o " + Path("out.glmq") + " --scheme int8", 20),
                       c.needle);
    fs::remove_all(dir);
  }
  EXPECT_FALSE(fs::exists(Path("out.glmq")));
}

TEST_F(Inputs, LayerCountsThatLoopedForMinutesAreRefusedAtOnce) {
  for (const char* n_text : {"1000000000", "1099511627776"}) {
    const std::string n = n_text;
    const fs::path dst = root_ / "z";
    fs::remove_all(dst);
    fs::copy(std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4-tiny-0414", dst);
    for (const auto& e : fs::directory_iterator(dst))
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    EditJson((dst / "config.json").string(),
             [&](Json& j) { j["num_hidden_layers"] = std::stoll(n); });
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_CLEAN_ERROR(Glmq("convert " + dst.string() + " -o " + Path("out.glmq"), 20),
                       "'num_hidden_layers' is " + n + ", over the limit of 1024");
    EXPECT_CLEAN_ERROR(Glmq("plan " + dst.string(), 20), "over the limit of 1024");
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20);
  }
}

TEST_F(Inputs, VisionSizesPastTheLimitsAreErrors) {
  const std::string cfg = Path("glm4v.json");
  fs::copy_file(std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4v-tiny/config.json", cfg);
  EditJson(cfg, [](Json& j) { j["vision_config"]["image_size"] = int64_t{4000000000000000000}; });
  EXPECT_CLEAN_ERROR(Glmq("plan " + cfg, 20), "'image_size' is 4000000000000000000, over the limit");
}

TEST_F(Inputs, DeeplyNestedOrDuplicatedJsonIsRefused) {
  const std::string dir = CopyFixture("hf");
  WriteText(dir + "/generation_config.json", std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("out.glmq"), 20), "nested deeper than");
  WriteText(dir + "/generation_config.json", R"({"eos_token_id": 1, "eos_token_id": 2})");
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("out.glmq"), 20),
                     "key 'eos_token_id' appears twice");
}

TEST_F(Inputs, DuplicateSafetensorsKeysAreAnError) {
  const std::string dir = CopyFixture("hf");
  const std::string shard = dir + "/model-00002-of-00002.safetensors";
  std::ifstream in(shard, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  std::string header = bytes.substr(8, n);
  // Repeat the first entry: '{"a":{...},' -> '{"a":{...},"a":{...},'.
  const size_t end = header.find("},") + 2;
  header = header.substr(0, end) + header.substr(1, end - 1) + header.substr(end);
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  WriteText(shard, len + header + bytes.substr(8 + n));
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("out.glmq"), 20), "appears twice");
  EXPECT_FALSE(fs::exists(Path("out.glmq")));
}

// Edits of the tokenizer files that every command refuses once embedded:
// convert must refuse them first, with the loader the runtime uses.
TEST_F(Inputs, MalformedTokenizerFilesAreRefusedByConvert) {
  struct Case {
    std::string fixture, file, name;
    std::function<std::string(std::string)> edit;
  };
  auto replace_line = [](int line, std::string with) {
    return [line, with](std::string t) {
      size_t b = 0;
      for (int i = 0; i < line; ++i) b = t.find('\n', b) + 1;
      const size_t e = t.find('\n', b);
      return t.substr(0, b) + with + t.substr(e);
    };
  };
  auto sub = [](std::string from, std::string to) {
    return [from, to](std::string t) { return absl::StrReplaceAll(t, {{from, to}}); };
  };
  const std::string chat = "glm4-tiny-chat", z = "glm4-tiny-0414";
  const std::vector<Case> cases = {
      {chat, "tokenizer.model", "rank 2^31-1", replace_line(300, "YWJjZGVm 2147483647")},
      {chat, "tokenizer.model", "duplicate rank", replace_line(300, "YWJjZGVm 3")},
      {chat, "tokenizer.model", "rank gap", replace_line(300, "YWJjZGVm 9000")},
      {chat, "tokenizer.model", "bad base64", replace_line(300, "Y*Jj 299")},
      {chat, "tokenizer.model", "no rank", replace_line(300, "YWJj")},
      {chat, "tokenizer.model", "negative rank", replace_line(300, "YWJj -1")},
      {chat, "tokenizer.model", "empty", [](std::string) { return std::string(); }},
      {chat, "tokenizer.model", "duplicate bytes", replace_line(300, "IQ== 299")},
      {chat, "tokenizer.model", "byte missing", replace_line(5, "")},
      {chat, "tokenizer_config.json", "decoder not an object",
       sub("\"added_tokens_decoder\": {", "\"added_tokens_decoder\": [], \"x\": {")},
      {chat, "tokenizer_config.json", "bad special id", sub("\"4096\":", "\"four\":")},
      {chat, "tokenizer_config.json", "special id of a regular token", sub("\"4096\":", "\"5\":")},
      {chat, "tokenizer_config.json", "special past the embedding", sub("\"4096\":", "\"99999\":")},
      {chat, "tokenizer_config.json", "eos not a special",
       sub("\"eos_token\": \"<|endoftext|>\"", "\"eos_token\": \"<nope>\"")},
      {chat, "tokenizer_config.json", "not JSON", [](std::string t) { return t.substr(0, 50); }},
      {z, "tokenizer.json", "model type", sub("\"type\": \"BPE\"", "\"type\": \"WordPiece\"")},
      {z, "tokenizer.json", "vocab id 2^40", sub("\"!\": 0,", "\"!\": 1099511627776,")},
      {z, "tokenizer.json", "normalizer", sub("\"normalizer\": null", "\"normalizer\": {}")},
      {z, "tokenizer.json", "merge of unknown tokens",
       sub("\"merges\": [", "\"merges\": [[\"\xc4\xa0zzz\", \"q\"],")},
      {z, "tokenizer.json", "split regex", sub("\\\\p{N}{1,3}", "\\\\p{N}{1,4}")},
  };
  ASSERT_GE(cases.size(), 19u);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file + ": " + c.name);
    const fs::path dst = root_ / "tk";
    fs::remove_all(dst);
    fs::copy(std::string(GLMQ_SHARED_DIR) + "/fixtures/models/" + c.fixture, dst);
    for (const auto& e : fs::directory_iterator(dst))
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    const std::string path = (dst / c.file).string();
    std::ifstream in(path, std::ios::binary);
    const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string after = c.edit(before);
    ASSERT_NE(after, before) << "the edit did not apply";
    WriteText(path, after);
    EXPECT_CLEAN_ERROR(Glmq("convert " + dst.string() + " -o " + Path("out.glmq"), 30), "tokenizer");
    EXPECT_FALSE(fs::exists(Path("out.glmq")));
  }
}

// Sets the first value of HF tensor `name` in a safetensors shard of `dir`.
void PoisonFirstValue(const std::string& shard, const std::string& name, uint16_t bf16) {
  std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
  uint8_t len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  std::string header(n, '\0');
  f.read(header.data(), n);
  const Json h = Json::parse(header);
  const uint64_t begin = h[name]["data_offsets"][0].get<uint64_t>();
  f.seekp(8 + n + begin);
  const char v[2] = {static_cast<char>(bf16 & 0xff), static_cast<char>(bf16 >> 8)};
  f.write(v, 2);
}

TEST_F(Inputs, NonFiniteNormsAreRefusedOnEveryPathIntoAFile) {
  for (uint16_t bad : {uint16_t{0x7fc0}, uint16_t{0x7f80}, uint16_t{0xff80}}) {
    SCOPED_TRACE(bad);
    const std::string dir = CopyFixture("hf");
    PoisonFirstValue(dir + "/model-00001-of-00002.safetensors",
                     "transformer.encoder.layers.0.input_layernorm.weight", bad);
    for (const std::string& cmd : {"convert " + dir + " -o " + Path("out.glmq"),
                                   "quantize " + dir + " -o " + Path("out.glmq") + " --scheme int8",
                                   "quantize " + dir + " -o " + Path("out.glmq") +
                                       " --scheme int4-g128"}) {
      EXPECT_CLEAN_ERROR(Glmq(cmd), "non-finite");
      EXPECT_FALSE(fs::exists(Path("out.glmq")));
    }
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace glmq::testing
