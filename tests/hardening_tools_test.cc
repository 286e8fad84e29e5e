// Regression tests of the tools reviewed last against the input / output
// policy (docs/hardening.md): `glmq logits` and the .npy readers behind it
// (--ids, --pixels). Shapes that wrap a size product, flags out of range,
// non-regular inputs and outputs over an input fail cleanly.
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "runtime/vision/npy_f32.h"
#include "tests/hardening_util.h"

namespace glmq::testing {
namespace {

// A version-1 .npy of `descr` and `shape` text, followed by `data`.
std::string Npy(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  h.append(63 - (10 + h.size()) % 64, ' ');
  h.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(h.size() & 0xff));
  out.push_back(static_cast<char>(h.size() >> 8));
  return out + h + data;
}

class Tools : public Hardening {
 protected:
  std::string Ids(const std::string& shape, const std::string& data) {
    const std::string p = Path("ids.npy");
    WriteText(p, Npy("<i4", shape, data));
    return p;
  }
};

// 2^62 ids in an empty file: 2^62 * 4 wrapped to 0 bytes, and the reader
// then allocated 2^62 ints (length_error, an abort).
TEST_F(Tools, LogitsIdsWhoseShapeWrapsTheSizeAreErrors) {
  for (const char* shape :
       {"4611686018427387904,", "4611686018427387904, 1", "9223372036854775807,"}) {
    SCOPED_TRACE(shape);
    EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + Ids(shape, "") + " -o " + Path("o.npy")),
                       "bytes of data for");
  }
  EXPECT_CLEAN_ERROR(
      Glmq("logits " + M() + " --ids " + Ids("2,", std::string(7, '\0')) + " -o " + Path("o.npy")),
      "7 bytes of data for 2 int32 values");
  EXPECT_FALSE(fs::exists(Path("o.npy")));
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(Tools, LogitsFlagsAndPathsOutsideThePolicyAreErrors) {
  const std::string ids = Ids("3,", std::string("\x01\0\0\0\x02\0\0\0\x03\0\0\0", 12));
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + ids + " --last -3 -o " + Path("o.npy")),
                     "--last -3 must be >= 0");
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + ids + " --last 4 -o " + Path("o.npy")),
                     "last 4 rows of a sequence of 3 tokens");
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + ids + " -t 5000 -o " + Path("o.npy")),
                     "is not within 0..1024");
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids /dev/zero -o " + Path("o.npy"), 20),
                     "not a regular file");
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + Path("fifo") + " -o " + Path("o.npy"), 20),
                     "is a FIFO");
  EXPECT_FALSE(fs::exists(Path("o.npy")));
  // The output is never one of the inputs, nor a device.
  const std::string before = Npy("<i4", "3,", std::string("\x01\0\0\0\x02\0\0\0\x03\0\0\0", 12));
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + ids + " -o " + ids), "is the input");
  std::ifstream in(ids, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), before);
  EXPECT_CLEAN_ERROR(Glmq("logits " + M() + " --ids " + ids + " -o /dev/null"),
                     "it is a character device");
  const CliRun ok = Glmq("logits " + M() + " --ids " + ids + " --last 2 -o " + Path("o.npy"));
  EXPECT_EQ(ok.rc, 0) << ok.output;
  EXPECT_EQ(TempFiles(), 0);
}

// Decode skipped ids it had no piece for: out-of-range ids printed nothing.
TEST_F(Tools, TokenizeDecodeOfIdsOutsideTheVocabularyIsAnError) {
  for (const char* id : {"-5", "5000", "2147483647"}) {
    SCOPED_TRACE(id);
    EXPECT_CLEAN_ERROR(Glmq("tokenize --tokenizer " + M() + " --decode --text '" + id + "'"),
                       "is outside the vocabulary 0..");
  }
  const CliRun ok = Glmq("tokenize --tokenizer " + M() + " --decode --text '72 105'");
  EXPECT_EQ(ok.rc, 0) << ok.output;
}

// Negative sizes were ignored, --hidden-scale 1e300 wrapped in llround.
TEST_F(Tools, SynthAndPlanSizesOutsideTheirRangeAreErrors) {
  const std::string synth =
      "synth --config " + kTinyChat + "/config.json --dry-run -o " + Path("s");
  for (const char* flag :
       {"--hidden-scale 1e300", "--hidden-scale -1", "--hidden -64", "--layers -5"}) {
    SCOPED_TRACE(flag);
    EXPECT_CLEAN_ERROR(Glmq(synth + " " + flag), "layers and hidden must be >= 0");
  }
  EXPECT_EQ(Glmq(synth + " --hidden-scale 0.125").rc, 0);
  EXPECT_FALSE(fs::exists(Path("s")));
  // --images near 2^63 overflowed images * tokens per image.
  const std::string v = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4v-tiny";
  EXPECT_CLEAN_ERROR(Glmq("plan " + v + " --images 9223372036854775807"),
                     "tokens each need more than max_context");
}

// --pixels goes through ParseNpyF32: a shape whose element count overflows
// int64, or whose count * 4 wraps to the data size, is refused (the tower
// then read pixels past the end of an empty array).
TEST(NpyF32, ShapesThatOverflowOrWrapAreErrors) {
  for (const char* shape : {"1, 3, 2147483648, 2147483648", "4611686018427387904,",
                            "3037000500, 3037000500, 3037000500"}) {
    SCOPED_TRACE(shape);
    EXPECT_FALSE(ParseNpyF32(Npy("<f4", shape, ""), "p.npy").ok());
  }
  EXPECT_FALSE(ParseNpyF32(Npy("<f4", "2,", std::string(7, '\0')), "p.npy").ok());
  const auto ok = ParseNpyF32(Npy("<f4", "2, 1", std::string(8, '\0')), "p.npy");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->data.size(), 2u);
}

}  // namespace
}  // namespace glmq::testing
