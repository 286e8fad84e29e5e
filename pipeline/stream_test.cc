// The stream of pipeline/stream.h without the binary: a source in memory,
// the real writer and reader.
#include "pipeline/stream.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "format/reader.h"
#include "format/test_util.h"
#include "gtest/gtest.h"
#include "pipeline/stages.h"
#include "quant/dequantize.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

using testing::Entry;
using testing::TempPath;

// Tensors held in memory in their stored bytes; ReadRowsRaw of `fail` fails.
class MemorySource : public TensorSource {
 public:
  void Add(pb::TensorEntry e, std::string bytes) {
    *meta_.add_tensors() = e;
    bytes_[e.name()] = std::move(bytes);
  }
  std::string fail;
  const pb::ModelMetadata& metadata() const override { return meta_; }
  absl::Status ReadRowsRaw(const pb::TensorEntry& e, int64_t r0, int64_t r1,
                           uint8_t* out) const override {
    if (e.name() == fail) return absl::DataLossError("disk on fire");
    const uint64_t row = *RowBytes(e);
    std::memcpy(out, bytes_.at(e.name()).data() + r0 * row, (r1 - r0) * row);
    return absl::OkStatus();
  }

 private:
  pb::ModelMetadata meta_;
  std::map<std::string, std::string> bytes_;
};

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.05f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::string Bytes(DType dt, const std::vector<float>& v) {
  std::string s(v.size() * DTypeSize(dt), '\0');
  ConvertFromF32(dt, v.data(), s.data(), static_cast<int64_t>(v.size()));
  return s;
}

pb::QuantRule Rule(pb::Encoding e, int g = 0) {
  pb::QuantRule r;
  r.set_encoding(e);
  r.set_group_size(g);
  return r;
}

// Runs the stream into a file and opens it.
absl::StatusOr<std::unique_ptr<GlmqFile>> Stream(const MemorySource& src,
                                                 const std::vector<pb::QuantRule>& rules,
                                                 const std::string& path,
                                                 std::vector<TensorResult>* results) {
  std::unique_ptr<QuantMethod> rtn = MakeRtnMethod();
  std::vector<TensorPlan> plans;
  for (int i = 0; i < src.metadata().tensors_size(); ++i)
    plans.push_back(PlanTensor(src.metadata().tensors(i), rules[i], *rtn, /*chunk_values=*/96));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWriter> w, GlmqWriter::Create(path));
  GLMQ_RETURN_IF_ERROR(StreamTensors(src, plans, *rtn, *w, [&](int, const TensorResult& r) {
    if (results) results->push_back(r);
    return absl::OkStatus();
  }));
  GLMQ_RETURN_IF_ERROR(w->Finish());
  return GlmqFile::Open(path);
}

// Many chunks per tensor (96 values): copies are bit-exact, casts round as
// ConvertFromF32, quantized tensors are QuantizeMatrix's bytes.
TEST(Stream, CopyCastAndQuantizeInChunks) {
  const std::vector<float> a = Random(40 * 64, 1), b = Random(10 * 64, 2), n = Random(64, 3);
  MemorySource src;
  src.Add(Entry("a", pb::ENCODING_BF16, {40, 64}), Bytes(DType::kBF16, a));
  src.Add(Entry("b", pb::ENCODING_F32, {10, 64}), Bytes(DType::kF32, b));
  src.Add(Entry("n", pb::ENCODING_F32, {64}), Bytes(DType::kF32, n));
  const std::string path = TempPath("stream_ok");
  std::vector<TensorResult> results;
  auto f = Stream(src, {Rule(pb::ENCODING_BF16), Rule(pb::ENCODING_Q4_SYM, 32), Rule(pb::ENCODING_F16)},
                  path, &results);
  ASSERT_TRUE(f.ok()) << f.status();
  auto data = [&](const char* name) {
    absl::Span<const uint8_t> d = (*f)->TensorData(*(*f)->FindTensor(name));
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
  };
  EXPECT_EQ(data("a"), Bytes(DType::kBF16, a));
  EXPECT_EQ(data("n"), Bytes(DType::kF16, n));
  const QuantSpec q4{pb::ENCODING_Q4_SYM, 32};
  std::string want(*QuantizedBytes(q4, 10, 64), '\0');
  ASSERT_TRUE(QuantizeMatrix(b.data(), 10, 64, q4, nullptr,
                             reinterpret_cast<uint8_t*>(want.data()), nullptr)
                  .ok());
  EXPECT_EQ(data("b"), want);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].bytes, want.size());
  EXPECT_GT(results[1].stats.nmse(), 0);
  EXPECT_EQ(results[0].stats.n_values, 0);
  std::filesystem::remove(path);
}

TEST(Stream, NonFiniteValuesAreRefusedWithTheirPlace) {
  std::vector<float> a = Random(4 * 64, 1);
  a[2 * 64 + 5] = std::nanf("");
  MemorySource src;
  pb::TensorEntry e = Entry("blk.0.w", pb::ENCODING_F32, {4, 64});
  e.add_source_names("model.layers.0.w");
  src.Add(e, Bytes(DType::kF32, a));
  const std::string path = TempPath("stream_nan");
  auto f = Stream(src, {Rule(pb::ENCODING_BF16)}, path, nullptr);
  ASSERT_FALSE(f.ok());
  const std::string m(f.status().message());
  EXPECT_NE(m.find("blk.0.w"), std::string::npos) << m;
  EXPECT_NE(m.find("model.layers.0.w"), std::string::npos) << m;
  EXPECT_NE(m.find("row 2, column 5"), std::string::npos) << m;
  EXPECT_FALSE(std::filesystem::exists(path)) << "no half-written output";
}

TEST(Stream, AReadErrorReachesTheCallerNamingTheTensor) {
  MemorySource src;
  src.Add(Entry("a", pb::ENCODING_F32, {8, 64}), Bytes(DType::kF32, Random(8 * 64, 1)));
  src.Add(Entry("b", pb::ENCODING_F32, {8, 64}), Bytes(DType::kF32, Random(8 * 64, 2)));
  src.fail = "b";
  const std::string path = TempPath("stream_read_err");
  auto f = Stream(src, {Rule(pb::ENCODING_F32), Rule(pb::ENCODING_F32)}, path, nullptr);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(f.status().message().find("tensor b"), std::string::npos) << f.status();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WriteBehind, AWriterErrorReachesTheProducer) {
  const std::string path = TempPath("stream_write_err");
  auto w = GlmqWriter::Create(path);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->BeginTensor(Entry("t", pb::ENCODING_F32, {4, 4})).ok());  // 64 B
  WriteBehind wb(**w);
  std::vector<uint8_t> chunk(48, 0);
  ASSERT_TRUE(wb.Append(chunk).ok());
  chunk.assign(48, 0);
  absl::Status s = wb.Append(chunk);  // waits for the first: fine
  if (s.ok()) s = wb.Wait();          // the second overflows the tensor
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("more data than"), std::string::npos) << s;
  EXPECT_FALSE((*w)->Finish().ok());
  w->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace glmq
