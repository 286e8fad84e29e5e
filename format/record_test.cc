// RewriteGlmqMetadata / RecordEval / RecordVram: the evidence round trips,
// tensors and checksums are untouched, older files (without the sections)
// read as before, and a failure at any step leaves the original intact.
#include "format/record.h"

#include <dirent.h>

#include <string>

#include "core/file.h"
#include "core/input.h"
#include "core/output.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

using ::glmq::testing::TempPath;
using ::testing::HasSubstr;

std::string Bytes(const std::string& path) {
  absl::StatusOr<std::string> s = ReadInputFile(path, InputKind::kSmall);
  return s.ok() ? *s : "";
}

// Entries of the folder of `path` whose name starts with its base name.
int FilesLike(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string base = path.substr(path.rfind('/') + 1);
  int n = 0;
  DIR* d = opendir(dir.c_str());
  while (const dirent* e = readdir(d)) n += std::string(e->d_name).rfind(base, 0) == 0;
  closedir(d);
  return n;
}

pb::VramMeasurement SampleVram() {
  pb::VramMeasurement v;
  v.set_version(1);
  v.set_card("Fake GPU 80GB");
  v.set_driver("999.1");
  v.set_cuda_version("13.0 / 13.0");
  v.set_kv_type("int8");
  pb::VramRow* r = v.add_rows();
  r->set_context(1024);
  r->set_predicted_bytes(1000);
  r->set_measured_bytes(1010);
  r->set_diff_percent(1.0);
  r->set_synthetic_kv(true);
  return v;
}

TEST(Record, OldFileHasNoSections) {
  const std::string path = TempPath("old.glmq");
  ASSERT_TRUE(testing::WriteSmallModel(path).ok());
  auto f = GlmqFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->metadata().evals_size(), 0);
  EXPECT_EQ((*f)->metadata().vram_size(), 0);
  EXPECT_TRUE((*f)->VerifyChecksums().ok());
}

TEST(Record, EvalAndVramRoundTripKeepTensors) {
  const std::string path = TempPath("rec.glmq");
  ASSERT_TRUE(testing::WriteSmallModel(path).ok());
  const std::string before = Bytes(path);
  pb::EvalResult e;
  e.set_kind("kld");
  e.set_text_name("wiki.txt");
  e.set_text_xxh64(0x1234);
  e.set_reference_name("ref.glmq");
  e.set_reference_xxh64(0xabcdef);
  e.set_protocol("ctx=256 stride=0 score=all kv=bf16");
  (*e.mutable_values())["mean_kld"] = 0.01;
  (*e.mutable_values())["top1_agreement"] = 0.97;
  auto r1 = RecordEval(path, e);
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = RecordVram(path, SampleVram());
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_THAT(r2->Describe(), HasSubstr("metadata rewritten"));
  auto f = GlmqFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  const pb::ModelMetadata& m = (*f)->metadata();
  ASSERT_EQ(m.evals_size(), 1);
  EXPECT_EQ(m.evals(0).reference_xxh64(), 0xabcdefu);
  EXPECT_EQ(m.evals(0).protocol(), "ctx=256 stride=0 score=all kv=bf16");
  EXPECT_DOUBLE_EQ(m.evals(0).values().at("top1_agreement"), 0.97);
  ASSERT_EQ(m.vram_size(), 1);
  EXPECT_EQ(m.vram(0).rows(0).measured_bytes(), 1010u);
  EXPECT_TRUE(m.vram(0).rows(0).synthetic_kv());
  EXPECT_TRUE((*f)->VerifyChecksums().ok());
  EXPECT_EQ((*f)->metadata_xxh64(), r2->new_metadata_xxh64);
  // Everything before the metadata is byte for byte the same.
  const std::string after = Bytes(path);
  ASSERT_GE(after.size(), r2->data_bytes);
  EXPECT_EQ(after.substr(128, r2->data_bytes - 128), before.substr(128, r2->data_bytes - 128));
  EXPECT_EQ(FilesLike(path), 1);  // no temp file left
}

TEST(Record, FailureAtEveryStepLeavesTheOriginal) {
  for (const char* step : {"cloned", "written"}) {
    const std::string path = TempPath(absl::StrCat("fail-", step, ".glmq"));
    ASSERT_TRUE(testing::WriteSmallModel(path).ok());
    const std::string before = Bytes(path);
    auto r = RewriteGlmqMetadata(
        path,
        [](pb::ModelMetadata* m) {
          m->add_evals()->set_kind("ppl");
          return absl::OkStatus();
        },
        [&](absl::string_view s) {
          return s == step ? absl::UnavailableError("disk full (injected)") : absl::OkStatus();
        });
    ASSERT_FALSE(r.ok()) << step;
    EXPECT_THAT(r.status().message(), HasSubstr("injected"));
    EXPECT_EQ(Bytes(path), before) << step;
    auto f = GlmqFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ((*f)->metadata().evals_size(), 0);
    EXPECT_TRUE((*f)->VerifyChecksums().ok());
    EXPECT_EQ(FilesLike(path), 1) << step;
  }
}

TEST(Record, RefusesTensorChangesAndBadFiles) {
  const std::string path = TempPath("edit.glmq");
  ASSERT_TRUE(testing::WriteSmallModel(path).ok());
  const std::string before = Bytes(path);
  auto r = RewriteGlmqMetadata(path, [](pb::ModelMetadata* m) {
    m->mutable_tensors(0)->set_xxh64(1);
    return absl::OkStatus();
  });
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("token_embd.weight"));
  EXPECT_EQ(Bytes(path), before);
  const std::string bad = TempPath("notglmq.glmq");
  ASSERT_TRUE(WriteFileAtomically(bad, "not a model").ok());
  auto b = RecordVram(bad, SampleVram());
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr(bad));
  EXPECT_FALSE(RecordVram(TempPath("missing.glmq"), SampleVram()).ok());
}

}  // namespace
}  // namespace glmq
