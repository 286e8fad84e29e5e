#include "quant/scheme.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;

pb::TensorEntry Entry(const std::string& name, std::vector<int64_t> shape,
                      pb::Encoding e = pb::ENCODING_BF16) {
  pb::TensorEntry t;
  t.set_name(name);
  t.set_encoding(e);
  for (int64_t d : shape) t.add_shape(d);
  return t;
}

TEST(Scheme, PresetsMapRoles) {
  auto s = QuantScheme::Create("int4-g128", {}, 40);
  ASSERT_TRUE(s.ok()) << s.status();
  pb::QuantRule r = s->Choose(Entry("blk.3.ffn_gate_up.weight", {27392, 4096}));
  EXPECT_EQ(r.encoding(), pb::ENCODING_Q4_SYM);
  EXPECT_EQ(r.group_size(), 128);
  EXPECT_EQ(s->Choose(Entry("token_embd.weight", {151552, 4096})).encoding(),
            pb::ENCODING_Q8_SYM);
  EXPECT_EQ(s->Choose(Entry("output.weight", {151552, 4096})).encoding(), pb::ENCODING_Q8_SYM);
  // Norms and biases are kept as they are.
  EXPECT_EQ(s->Choose(Entry("blk.3.attn_norm.weight", {4096}, pb::ENCODING_F32)).encoding(),
            pb::ENCODING_F32);
  EXPECT_EQ(s->Choose(Entry("blk.3.attn_qkv.bias", {4608})).encoding(), pb::ENCODING_BF16);
}

// The scheme list: each preset's block linears, and the default
// policy (norms/biases kept, embedding and output q8 at the preset's group,
// unless a --tensor-type rule asks otherwise).
TEST(Scheme, RequiredPresetsAndDefaultPolicy) {
  struct Want {
    const char* preset;
    pb::Encoding linear;
    int group;
  };
  for (const Want& w : {Want{"int8-g32", pb::ENCODING_Q8_SYM, 32},
                        Want{"int8", pb::ENCODING_Q8_SYM, 32},
                        Want{"int8-g128", pb::ENCODING_Q8_SYM, 128},
                        Want{"int4-g32", pb::ENCODING_Q4_SYM, 32},
                        Want{"int4-g128", pb::ENCODING_Q4_SYM, 128},
                        Want{"int4a-g32", pb::ENCODING_Q4_ASYM, 32},
                        Want{"int4a-g128", pb::ENCODING_Q4_ASYM, 128}}) {
    SCOPED_TRACE(w.preset);
    auto s = QuantScheme::Create(w.preset, {}, 4);
    ASSERT_TRUE(s.ok()) << s.status();
    for (const char* name : {"blk.0.attn_qkv.weight", "blk.3.attn_output.weight",
                             "blk.1.ffn_gate_up.weight", "blk.2.ffn_down.weight"}) {
      const pb::QuantRule r = s->Choose(Entry(name, {512, 256}));
      EXPECT_EQ(r.encoding(), w.linear) << name;
      EXPECT_EQ(r.group_size(), w.group) << name;
    }
    for (const char* name : {"token_embd.weight", "output.weight"}) {
      const pb::QuantRule r = s->Choose(Entry(name, {4160, 256}));
      EXPECT_EQ(r.encoding(), pb::ENCODING_Q8_SYM) << name;
      EXPECT_EQ(r.group_size(), w.group) << name;
    }
    EXPECT_EQ(s->Choose(Entry("blk.0.attn_norm.weight", {256}, pb::ENCODING_F32)).encoding(),
              pb::ENCODING_F32);
    EXPECT_EQ(s->Choose(Entry("blk.0.attn_qkv.bias", {384})).encoding(), pb::ENCODING_BF16);
    EXPECT_EQ(s->Choose(Entry("output_norm.weight", {256})).encoding(), pb::ENCODING_BF16);
    // "unless asked": a rule keeps the embedding dense.
    auto keep = QuantScheme::Create(w.preset, {"^token_embd\\.weight$=bf16"}, 4);
    ASSERT_TRUE(keep.ok()) << keep.status();
    EXPECT_EQ(keep->Choose(Entry("token_embd.weight", {4160, 256})).encoding(),
              pb::ENCODING_BF16);
    EXPECT_EQ(keep->Choose(Entry("output.weight", {4160, 256})).encoding(), pb::ENCODING_Q8_SYM);
  }
}

TEST(Scheme, MixKeepsEdgeLayersAt8Bits) {
  auto s = QuantScheme::Create("int4-mix", {}, 40);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Choose(Entry("blk.0.attn_qkv.weight", {4608, 4096})).encoding(),
            pb::ENCODING_Q8_SYM);
  EXPECT_EQ(s->Choose(Entry("blk.39.ffn_down.weight", {4096, 13696})).encoding(),
            pb::ENCODING_Q8_SYM);
  EXPECT_EQ(s->Choose(Entry("blk.3.ffn_down.weight", {4096, 13696})).encoding(),
            pb::ENCODING_Q4_ASYM);
  EXPECT_EQ(s->Choose(Entry("blk.39.attn_output.weight", {4096, 4096})).encoding(),
            pb::ENCODING_Q4_ASYM);
}

TEST(Scheme, TensorTypeRulesComeFirst) {
  auto s = QuantScheme::Create("int4-g128", {"ffn_down=q8", "attn_output=q4a:32", "output\\.=f16"},
                               40);
  ASSERT_TRUE(s.ok()) << s.status();
  pb::QuantRule r = s->Choose(Entry("blk.7.ffn_down.weight", {4096, 13696}));
  EXPECT_EQ(r.encoding(), pb::ENCODING_Q8_SYM);
  EXPECT_EQ(r.group_size(), 32);
  r = s->Choose(Entry("blk.7.attn_output.weight", {4096, 4096}));
  EXPECT_EQ(r.encoding(), pb::ENCODING_Q4_ASYM);
  EXPECT_EQ(r.group_size(), 32);
  EXPECT_EQ(s->Choose(Entry("output.weight", {10, 16})).encoding(), pb::ENCODING_F16);
}

TEST(Scheme, ClearErrors) {
  auto bad = QuantScheme::Create("int3", {}, 40);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("unknown --scheme 'int3'"));
  for (const char* known : {"int8-g32", "int8-g128", "int4-g32", "int4-g128", "int4a-g32",
                            "int4a-g128"}) {
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(known));
  }
  auto bad_group = QuantScheme::Create("int4-g64", {}, 40);
  ASSERT_FALSE(bad_group.ok());
  EXPECT_THAT(std::string(bad_group.status().message()), HasSubstr("unknown --scheme 'int4-g64'"));
  for (const char* tt : {"ffn_down", "ffn_down=q5", "ffn_down=q4:48", "=q8", "ffn_down=",
                         "ffn_down=f16:32", "ffn_down=q4:x"}) {
    auto s = QuantScheme::Create("int8", {tt}, 40);
    ASSERT_FALSE(s.ok()) << tt;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(tt));
  }
  auto re = QuantScheme::Create("int8", {"blk.(3=q4"}, 40);
  ASSERT_FALSE(re.ok());
  EXPECT_THAT(std::string(re.status().message()), HasSubstr("bad tensor pattern 'blk.(3'"));
  EXPECT_TRUE(QuantScheme::Create("none", {"ffn=q8"}, 40).ok());
  EXPECT_FALSE(QuantScheme::Create("none", {}, 40).ok());
}

// The tensor table's keep_dense rows (vision position tables, CLS / boi /
// eoi) pass over quantized rules: the runtime reads them dense.
TEST(Scheme, QuantizedRulesSkipTensorsTheRuntimeReadsDense) {
  const std::vector<pb::TensorEntry> tensors = {Entry("v.position_embd.weight", {100, 64}),
                                                Entry("v.cls_embd", {1, 64}),
                                                Entry("v.boi", {1, 1, 256}),
                                                Entry("v.blk.0.attn_qkv.weight", {192, 64})};
  auto s = QuantScheme::Create("none", {"^v\\.=q8"}, 40);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->CheckUserRulesUsed(tensors).ok());
  EXPECT_EQ(s->Choose(tensors[0]).encoding(), pb::ENCODING_BF16);
  EXPECT_EQ(s->Choose(tensors[1]).encoding(), pb::ENCODING_BF16);
  EXPECT_EQ(s->Choose(tensors[2]).encoding(), pb::ENCODING_BF16);
  EXPECT_EQ(s->Choose(tensors[3]).encoding(), pb::ENCODING_Q8_SYM);
  EXPECT_THAT(s->KeptDense(tensors),
              ::testing::ElementsAre("v.position_embd.weight", "v.cls_embd", "v.boi"));
  // Dense targets still apply.
  auto f16 = QuantScheme::Create("none", {"position_embd=f16"}, 40);
  ASSERT_TRUE(f16.ok());
  EXPECT_EQ(f16->Choose(tensors[0]).encoding(), pb::ENCODING_F16);
  EXPECT_TRUE(f16->KeptDense(tensors).empty());
  // A rule that could only quantize such tensors is refused at planning time.
  auto only = QuantScheme::Create("none", {"position_embd|boi=q4"}, 40);
  ASSERT_TRUE(only.ok());
  const absl::Status st = only->CheckUserRulesUsed(tensors);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("reads dense (v.position_embd.weight, v.boi"));
}

}  // namespace
}  // namespace glmq
