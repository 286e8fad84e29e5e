// Corrupt HF checkpoints (a fixture copied to a temp dir, then edited):
// `glmq convert` must exit non-zero with an error naming the problem and
// leave no output file (nor temp file) behind.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "convert/safetensors.h"
#include "core/file.h"
#include "core/json.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
const std::string kModels = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/";
const std::string kGlmq = GLMQ_CLI;

class Malformed : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("glmq_malformed_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "out");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Copies a fixture to <root>/<as> (writable) and returns its path.
  std::string Copy(const std::string& model, const std::string& as = "model") {
    const fs::path dst = root_ / as;
    fs::copy(kModels + model, dst, fs::copy_options::recursive);
    for (const auto& e : fs::directory_iterator(dst)) {
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    }
    return dst.string();
  }

  // Runs convert; expects failure, `needle` in stderr, empty output folder.
  void ExpectFails(const std::string& dir, const std::string& needle) {
    const std::string out = (root_ / "out" / "model.glmq").string();
    const std::string err = (root_ / "stderr.txt").string();
    const std::string cmd = kGlmq + " convert '" + dir + "' -o '" + out + "' 2> '" + err + "'";
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc));
    EXPECT_NE(WEXITSTATUS(rc), 0);
    auto msg = ReadFileToString(err);
    ASSERT_TRUE(msg.ok());
    EXPECT_NE(msg->find(needle), std::string::npos) << "stderr: " << *msg;
    EXPECT_TRUE(fs::is_empty(root_ / "out")) << "output or temp file left behind";
  }

  // Rewrites a safetensors file's JSON header through `edit` (data kept).
  void EditHeader(const std::string& path, const std::function<void(Json&)>& edit) {
    auto bytes = ReadFileToString(path);
    ASSERT_TRUE(bytes.ok());
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>((*bytes)[i]);
    Json h = Json::parse(bytes->substr(8, n));
    edit(h);
    std::string json = h.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << out << json << bytes->substr(8 + n);
  }

  void EditJson(const std::string& path, const std::function<void(Json&)>& edit) {
    auto j = ReadJsonFile(path);
    ASSERT_TRUE(j.ok());
    edit(*j);
    std::ofstream(path, std::ios::trunc) << j->dump(2);
  }

  fs::path root_;
};

const char* kShard2 = "/model-00002-of-00002.safetensors";

TEST_F(Malformed, TruncatedSafetensors) {
  const std::string dir = Copy("glm4-tiny-chat");
  fs::resize_file(dir + kShard2, fs::file_size(dir + kShard2) - 1000);
  ExpectFails(dir, "model-00002-of-00002.safetensors");
}

TEST_F(Malformed, HeaderLengthPastEnd) {
  const std::string dir = Copy("glm4-tiny-chat-hf");
  const std::string p = dir + "/model.safetensors";
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  const uint64_t n = fs::file_size(p) + 10;
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
  f.close();
  ExpectFails(dir, "past the end of the file");
}

TEST_F(Malformed, OffsetsOutOfRange) {
  const std::string dir = Copy("glm4-tiny-chat");
  EditHeader(dir + kShard2, [](Json& h) {
    for (auto& [name, t] : h.items()) {
      if (name == "__metadata__") continue;
      t["data_offsets"][0] = t["data_offsets"][0].get<uint64_t>() + 100000000;
      t["data_offsets"][1] = t["data_offsets"][1].get<uint64_t>() + 100000000;
      return;
    }
  });
  ExpectFails(dir, "out of range");
}

TEST_F(Malformed, OverlappingOffsets) {
  const std::string dir = Copy("glm4-tiny-chat");
  EditHeader(dir + kShard2, [](Json& h) {
    // Move the smallest-offset 1-D tensor 2 bytes into the one before it.
    std::string victim;
    uint64_t best = ~0ull;
    for (auto& [name, t] : h.items()) {
      if (name == "__metadata__") continue;
      const uint64_t b = t["data_offsets"][0].get<uint64_t>();
      if (b > 0 && b < best && t["shape"].size() == 1) best = b, victim = name;
    }
    h[victim]["data_offsets"][0] = best - 2;
    h[victim]["data_offsets"][1] = h[victim]["data_offsets"][1].get<uint64_t>() - 2;
  });
  ExpectFails(dir, "overlap");
}

TEST_F(Malformed, UnknownDtype) {
  const std::string dir = Copy("glm4-tiny-0414");
  std::string name;
  EditHeader(dir + kShard2, [&](Json& h) {
    for (auto& [n, t] : h.items()) {
      if (n == "__metadata__") continue;
      t["dtype"] = "Q9";
      name = n;
      return;
    }
  });
  ExpectFails(dir, "unknown dtype 'Q9'");
}

TEST_F(Malformed, MissingShard) {
  const std::string dir = Copy("glm4-tiny-0414");
  fs::remove(dir + kShard2);
  ExpectFails(dir, "model-00002-of-00002.safetensors' is missing");
}

TEST_F(Malformed, ShardPathWithDotDot) {
  const std::string dir = Copy("glm4-tiny-chat");
  EditJson(dir + "/model.safetensors.index.json", [](Json& j) {
    for (auto& [k, v] : j["weight_map"].items()) {
      if (v == "model-00002-of-00002.safetensors") v = "../model/model-00002-of-00002.safetensors";
    }
  });
  ExpectFails(dir, "must stay inside the checkpoint folder");
}

TEST_F(Malformed, UnknownArchitecture) {
  const std::string dir = Copy("glm4-tiny-chat-hf");
  EditJson(dir + "/config.json",
           [](Json& j) { j["architectures"] = Json::array({"FooForCausalLM"}); });
  ExpectFails(dir, "'architectures' is 'FooForCausalLM'");
}

TEST_F(Malformed, NanWeight) {
  const std::string dir = Copy("glm4-tiny-chat-hf");
  const std::string p = dir + "/model.safetensors";
  auto f = SafetensorsFile::Open(p);
  ASSERT_TRUE(f.ok());
  const SafetensorsTensor* t = (*f)->Find("model.layers.2.self_attn.k_proj.weight");
  ASSERT_NE(t, nullptr);
  const uint64_t at = t->offset + 2 * 1000;
  f->reset();
  std::fstream s(p, std::ios::in | std::ios::out | std::ios::binary);
  s.seekp(at);
  s.put(static_cast<char>(0xc0));  // bf16 0x7fc0 (little-endian) = NaN
  s.put(static_cast<char>(0x7f));
  s.close();
  ExpectFails(dir, "blk.2.attn_qkv.weight' (from model.layers.2.self_attn.q_proj.weight)");
}

TEST_F(Malformed, IndexNamesTensorAbsentFromShard) {
  const std::string dir = Copy("glm4-tiny-0414");
  EditJson(dir + "/model.safetensors.index.json", [](Json& j) {
    j["weight_map"]["model.layers.0.extra.weight"] = "model-00001-of-00002.safetensors";
  });
  ExpectFails(dir, "model.layers.0.extra.weight");
}


TEST_F(Malformed, WrongTokenizerForTheModel) {
  // The real GLM-4 tokenizer (151,329 tokens) beside a 4,160-row embedding.
  const std::string dir = Copy("glm4-tiny-chat");
  fs::copy_file(std::string(GLMQ_SHARED_DIR) + "/reference/tokenizer/glm-4/tokenizer.model",
                dir + "/tokenizer.model", fs::copy_options::overwrite_existing);
  // The loader eval and generate use refuses it first: the config's
  // specials (4096...) are regular tokens of the real vocabulary.
  ExpectFails(dir, "tokenizer: special token '<|endoftext|>' id 4096 is also a regular token");
}

TEST_F(Malformed, CorruptTokenizerFiles) {
  const std::string dir = Copy("glm4-tiny-chat");
  std::ofstream(dir + "/tokenizer.model", std::ios::trunc) << "not a tiktoken file\n";
  ExpectFails(dir, dir + ": tokenizer: tokenizer.model line 1: expected '<base64 token> <rank>'");
  const std::string hf = Copy("glm4-tiny-chat-hf", "model-hf");
  std::ofstream(hf + "/tokenizer.json", std::ios::trunc) << "{\"model\": ";
  ExpectFails(hf, hf + ": tokenizer: tokenizer.json: invalid JSON");
}

}  // namespace
}  // namespace glmq
