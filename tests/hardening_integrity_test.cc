// Regression tests of silent damage: a corrupted tensor must stop eval,
// generate and quantize (verify-on-load) as it stops verify; verify must
// check the hyperparameters against the tensors and load the embedded
// tokenizer.
#include <string>

#include "format/embedded.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "tests/hardening_util.h"

namespace glmq::testing {
namespace {

using ::testing::HasSubstr;

class Integrity : public Hardening {
 protected:
  // Writes `bytes` at the start of tensor `name` (its checksum now fails).
  void Corrupt(const std::string& path, const std::string& name, const std::string& bytes) {
    uint64_t offset = 0;
    {
      auto f = GlmqFile::Open(path);
      ASSERT_TRUE(f.ok()) << f.status();
      offset = (*f)->FindTensor(name)->offset();
    }
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.write(bytes.data(), bytes.size());
  }
};

TEST_F(Integrity, CorruptedTensorsStopEveryCommandThatLoadsThem) {
  const std::string m = M();
  // bf16 NaN in a norm, and finite garbage in a matrix.
  Corrupt(m, "blk.1.attn_norm.weight", std::string("\xc0\x7f", 2));
  Corrupt(m, "blk.2.ffn_down.weight", std::string("\x12\x34\x56\x78", 4));
  const std::string want = "checksum mismatch";
  EXPECT_CLEAN_ERROR(Glmq("verify " + m), "blk.1.attn_norm.weight");
  EXPECT_CLEAN_ERROR(Glmq("eval ppl " + m + " --text " + kValidText + " --max-windows 2"), want);
  EXPECT_CLEAN_ERROR(Glmq("generate " + m + " --prompt hi -n 4"), want);
  EXPECT_CLEAN_ERROR(Glmq("quantize " + m + " -o " + Path("q.glmq") + " --scheme int8"), want);
  EXPECT_CLEAN_ERROR(Glmq("quantize " + m + " -o " + Path("q.glmq") + " --scheme int4-g128"), want);
  EXPECT_FALSE(fs::exists(Path("q.glmq")));
  EXPECT_CLEAN_ERROR(Glmq("calibrate " + m + " --text " + kValidText + " -o " + Path("s.stats")),
                     want);
  // --no-verify is the way past it (the NaN then shows in the result).
  const CliRun r = Glmq("eval ppl " + m + " --text " + kValidText + " --max-windows 1 --no-verify");
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("NaN"));
}

TEST_F(Integrity, VerifyChecksHparamsAgainstTensors) {
  struct Case {
    std::string name, needle;
    std::function<void(pb::ModelMetadata&)> edit;
  };
  const std::vector<Case> cases = {
      {"more layers", "'blk.4.attn_norm.weight' is missing",
       [](pb::ModelMetadata& md) { md.mutable_hparams()->set_n_layers(5); }},
      {"fewer layers", "'blk.3.", [](pb::ModelMetadata& md) { md.mutable_hparams()->set_n_layers(3); }},
      {"wider", "has shape [4160, 256], the hparams give [4160, 512]",
       [](pb::ModelMetadata& md) { md.mutable_hparams()->set_hidden_size(512); }},
      {"tensor dropped", "'output.weight' is missing",
       [](pb::ModelMetadata& md) {
         auto* t = md.mutable_tensors();
         for (int i = 0; i < t->size(); ++i) {
           if (t->Get(i).name() == "output.weight") {
             t->DeleteSubrange(i, 1);
             break;
           }
         }
       }},
      {"bad hparams", "field 'n_kv_heads' is 3",
       [](pb::ModelMetadata& md) { md.mutable_hparams()->set_n_kv_heads(3); }},
      {"tokenizer rank 2^31-1", "rank 2147483647 is over the limit",
       [](pb::ModelMetadata& md) {
         for (auto& f : *md.mutable_tokenizer()->mutable_files()) {
           if (f.name() == "tokenizer.model")
             f = MakeEmbeddedFile("tokenizer.model", "IQ== 0\nIg== 2147483647\n");
         }
       }},
      {"tokenizer", "embedded tokenizer",
       [](pb::ModelMetadata& md) {
         for (auto& f : *md.mutable_tokenizer()->mutable_files()) {
           if (f.name() == "tokenizer.model") f = MakeEmbeddedFile("tokenizer.model", "IQ== 7\n");
         }
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string m = M();
    ASSERT_TRUE(EditMetadata(m, c.edit).ok());
    EXPECT_CLEAN_ERROR(Glmq("verify " + m), c.needle);
    fs::remove(m);
  }
  const CliRun ok = Glmq("verify " + M());
  EXPECT_EQ(ok.rc, 0) << ok.output;
}

}  // namespace
}  // namespace glmq::testing
