// KV cache, totals, --gpu answers, malformed input and the SVG of the planner.
#include <filesystem>
#include <string>

#include "convert/hf_config.h"
#include "core/json.h"
#include "gtest/gtest.h"
#include "plan/memory.h"
#include "schema/tensors.h"
#include "plan/report.h"
#include "plan/svg.h"
#include "runtime/attention_tiling.h"

namespace glmq::plan {
namespace {

const std::string kConfigs = std::string(GLMQ_SHARED_DIR) + "/reference/configs/";

pb::HParams Config(const std::string& model) {
  absl::StatusOr<pb::HParams> hp = HParamsFromConfigFile(kConfigs + model + ".json");
  EXPECT_TRUE(hp.ok()) << hp.status();
  return hp.ok() ? *hp : pb::HParams();
}

TEST(PlanKv, Glm4_9bIs40960BytesPerTokenAnd5GiBAt128K) {
  for (const char* m : {"glm-4-9b", "glm-4-9b-chat", "glm-4-9b-chat-hf", "GLM-4-9B-0414"}) {
    SCOPED_TRACE(m);
    const pb::HParams hp = Config(m);
    EXPECT_EQ(KvBytesPerToken(hp, KvType::kBF16), 40960u);  // 2*40*2*128*2
    EXPECT_EQ(KvBytesPerToken(hp, KvType::kBF16) * 131072, 5ull << 30);
    EXPECT_EQ(KvBytesPerToken(hp, KvType::kInt8), 20800u);  // 2*40*2*(128+2)
  }
}

TEST(PlanKv, Chat1mAnd32bFromTheirConfigs) {
  // glm-4-9b-chat-1m: multi_query_group_num 4 -> 2*40*4*128*2.
  EXPECT_EQ(KvBytesPerToken(Config("glm-4-9b-chat-1m"), KvType::kBF16), 81920u);
  EXPECT_EQ(KvBytesPerToken(Config("glm-4-9b-chat-1m"), KvType::kInt8), 41600u);
  // GLM-4-32B-0414: 61 layers, 2 kv heads of 128 -> 2*61*2*128*2.
  EXPECT_EQ(KvBytesPerToken(Config("GLM-4-32B-0414"), KvType::kBF16), 62464u);
  EXPECT_EQ(KvBytesPerToken(Config("GLM-4-32B-0414"), KvType::kInt8), 2u * 61 * 2 * 130);
}

TEST(PlanRows, EveryConfigPlansUpToItsMaxContext) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(kConfigs)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".json" || name.find("generation_config") != std::string::npos)
      continue;
    SCOPED_TRACE(name);
    ++n;
    absl::StatusOr<pb::HParams> hp = HParamsFromConfigFile(e.path().string());
    ASSERT_TRUE(hp.ok()) << hp.status();
    absl::StatusOr<Plan> p = MakePlan(*hp, PlanOptions());
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->contexts.front(), 1024);
    EXPECT_EQ(p->contexts.back(), hp->max_context());
    for (size_t i = 1; i < p->contexts.size(); ++i) {
      EXPECT_GT(p->contexts[i], p->contexts[i - 1]);
      for (size_t w = 0; w < p->weights.size(); ++w)
        EXPECT_GT(TotalBytes(*p, w, 0, p->contexts[i]), TotalBytes(*p, w, 0, p->contexts[i - 1]));
    }
    EXPECT_FALSE(RenderText(*p, name).empty());
    EXPECT_FALSE(RenderCsv(*p).empty());
  }
  EXPECT_EQ(n, 8);
  absl::StatusOr<Plan> m1 = MakePlan(Config("glm-4-9b-chat-1m"), PlanOptions());
  ASSERT_TRUE(m1.ok());
  EXPECT_EQ(m1->contexts.size(), 11u);  // 1K .. 1M
  EXPECT_EQ(m1->contexts.back(), 1048576);
  EXPECT_EQ(ContextRows(65536, 1), (std::vector<int64_t>{1024, 2048, 4096, 8192, 16384, 32768, 65536}));
  EXPECT_EQ(ContextRows(5000, 1), (std::vector<int64_t>{1024, 2048, 4096, 5000}));
}

TEST(PlanTotals, TermsAddUpAndBatchMultiplies) {
  const pb::HParams hp = Config("glm-4-9b-chat");
  PlanOptions one, four;
  four.batch = 4;
  absl::StatusOr<Plan> p1 = MakePlan(hp, one), p4 = MakePlan(hp, four);
  ASSERT_TRUE(p1.ok() && p4.ok());
  const int64_t c = 131072;
  EXPECT_EQ(KvBytes(*p1, 0, c), 5ull << 30);
  EXPECT_EQ(KvBytes(*p4, 0, c), 20ull << 30);
  // The attention scratch is per thread, not per sequence (runtime/attention_tiling.h).
  const uint64_t attn = 4 * AttentionScratchFloats({32, 2, 128}, 1);
  EXPECT_EQ(BuffersBytes(*p4, c), 4 * BuffersBytes(*p1, c) - 3 * attn);
  EXPECT_EQ(TotalBytes(*p1, 0, 0, c), p1->weights[0].bytes.total() + (5ull << 30) +
                                          BuffersBytes(*p1, c) + kCudaContextBytes);
  // Runtime working buffers at chunk 256 (runtime/buffers.h): residual,
  // normed, proj_out [256,4096] + qkv [256,4608] + attn_out [256,4096] +
  // gate_up [256,27392] + act [256,13696] + logits [256,151552] + the
  // attention tiles, all f32; none of them grows with the context.
  const uint64_t t = 256 * 4;
  EXPECT_EQ(BuffersBytes(*p1, c), t * (4 * 4096 + 4608 + 27392 + 13696 + 151552) + attn);
  EXPECT_EQ(BuffersBytes(*p1, 1024), BuffersBytes(*p1, c));
}

TEST(PlanKv, WholeBlocksOf256PositionsAsTheRuntimeAllocates) {
  PlanOptions o;
  o.contexts = {1000, 1024, 1025, 4096};
  absl::StatusOr<Plan> p = MakePlan(Config("glm-4-9b-chat-1m"), o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->contexts, o.contexts);
  EXPECT_EQ(KvBytes(*p, 0, 1000), 1024u * 81920);
  EXPECT_EQ(KvBytes(*p, 0, 1024), 1024u * 81920);
  EXPECT_EQ(KvBytes(*p, 1, 1025), 1280u * 41600);
  EXPECT_EQ(p->kv_layouts[0].block_tokens, 256);
  o.contexts = {(1 << 20) + 1};
  EXPECT_FALSE(MakePlan(Config("glm-4-9b-chat-1m"), o).ok());
}

TEST(PlanGpu, MaxContextIsConsistentWithTheTableAndMonotone) {
  absl::StatusOr<Plan> p = MakePlan(Config("glm-4-9b-chat-1m"), PlanOptions());
  ASSERT_TRUE(p.ok());
  for (size_t w = 0; w < p->weights.size(); ++w) {
    for (size_t k = 0; k < 2; ++k) {
      int64_t prev = -1;
      for (uint64_t gib : {16, 24, 48, 80, 141, 1000}) {
        const uint64_t gpu = gib << 30;
        const int64_t c = MaxContextThatFits(*p, w, k, gpu);
        EXPECT_GE(c, prev) << gib;
        prev = c;
        if (c < 0) {
          EXPECT_GT(TotalBytes(*p, w, k, 1), gpu);
          continue;
        }
        EXPECT_LE(TotalBytes(*p, w, k, c), gpu);
        if (c < p->hp.max_context()) {
          EXPECT_GT(TotalBytes(*p, w, k, c + 1), gpu);
        }
        for (int64_t row : p->contexts)  // a table row fits iff it is <= the answer
          EXPECT_EQ(TotalBytes(*p, w, k, row) <= gpu, row <= c) << row;
      }
      // int8 KV always fits at least as much context as bf16 KV.
      EXPECT_GE(MaxContextThatFits(*p, w, 1, 24ull << 30), MaxContextThatFits(*p, w, 0, 24ull << 30));
    }
  }
  // bf16 weights (17.5 GiB) + 0.5 GiB context do not leave room at 16 GiB.
  EXPECT_EQ(MaxContextThatFits(*p, 0, 0, 16ull << 30), -1);
  EXPECT_EQ(MaxContextThatFits(*p, 2, 1, 1000ull << 30), 1048576);
}

TEST(PlanErrors, MalformedConfigsNameTheField) {
  absl::StatusOr<Json> cfg = ReadJsonFile(kConfigs + "glm-4-9b-chat.json");
  ASSERT_TRUE(cfg.ok());
  Json bad = *cfg;
  bad.erase("multi_query_group_num");
  bad["multi_query_attention"] = true;
  bad["num_attention_heads"] = 0;
  absl::StatusOr<pb::HParams> hp = HParamsFromHfConfig(bad, "bad.json");
  if (hp.ok()) {
    absl::StatusOr<Plan> p = MakePlan(*hp, PlanOptions());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.status().message().find("n_heads"), std::string::npos) << p.status();
  } else {
    EXPECT_NE(hp.status().message().find("num_attention_heads"), std::string::npos) << hp.status();
  }
  Json unknown = *cfg;
  unknown["model_type"] = "llama";
  EXPECT_FALSE(HParamsFromHfConfig(unknown, "x.json").ok());

  pb::HParams h = Config("glm-4-9b-chat");
  h.set_n_kv_heads(3);
  absl::StatusOr<Plan> p = MakePlan(h, PlanOptions());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("'n_kv_heads'"), std::string::npos) << p.status();
  h = Config("glm-4-9b-chat");
  h.set_max_context(0);
  p = MakePlan(h, PlanOptions());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("'max_context'"), std::string::npos) << p.status();
  h = Config("glm-4v-9b");
  h.mutable_vision()->set_patch_size(0);
  p = MakePlan(h, PlanOptions());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("vision: field 'patch_size'"), std::string::npos);
  h = Config("glm-4-9b-chat");
  h.set_layout(pb::LAYOUT_UNSPECIFIED);
  EXPECT_FALSE(MakePlan(h, PlanOptions()).ok());
  PlanOptions o;
  o.images = 1;
  p = MakePlan(Config("glm-4-9b-chat"), o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("no vision tower"), std::string::npos);
  o.images = 0;
  o.batch = 0;
  EXPECT_FALSE(MakePlan(Config("glm-4-9b-chat"), o).ok());
}

TEST(PlanImages, ImageTokensUseContextAndAddBuffers) {
  PlanOptions o;
  o.images = 2;
  absl::StatusOr<Plan> p = MakePlan(Config("glm-4v-9b"), o);
  absl::StatusOr<Plan> p0 = MakePlan(Config("glm-4v-9b"), PlanOptions());
  ASSERT_TRUE(p.ok() && p0.ok()) << p.status();
  EXPECT_EQ(p->image_tokens, 3204);  // (1120/14/2)^2 = 1600 + boi + eoi per image
  EXPECT_EQ(p->image.patches, 6400);
  EXPECT_EQ(p->contexts.front(), 4096);
  EXPECT_GT(BuffersBytes(*p, 8192), BuffersBytes(*p0, 8192));
  EXPECT_EQ(MaxContextThatFits(*p, 0, 0, 1ull << 30), -1);
  o.images = 6;  // 9600 tokens > seq_length 8192
  EXPECT_FALSE(MakePlan(Config("glm-4v-9b"), o).ok());
}

TEST(PlanImages, Glm41vImagesKeepTheirSize) {
  PlanOptions o;
  o.images = 1;
  o.image_width = 1920;
  o.image_height = 1080;
  absl::StatusOr<Plan> p = MakePlan(Config("GLM-4.1V-9B-Thinking"), o);
  ASSERT_TRUE(p.ok()) << p.status();
  // smart_resize to multiples of 28: 1080 -> 39 * 28 = 1092, 1920 -> 69 * 28 = 1932;
  // (1092 / 14) * (1932 / 14) = 78 * 138 patches, / 4 merged, + image start/end.
  EXPECT_EQ(p->image.height, 1092);
  EXPECT_EQ(p->image.width, 1932);
  EXPECT_EQ(p->image.patches, 10764);
  EXPECT_EQ(p->image_tokens, 2693);
  o.image_width = 1920 * 4;  // a larger image costs more, up to max_pixels
  absl::StatusOr<Plan> big = MakePlan(Config("GLM-4.1V-9B-Thinking"), o);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_GT(big->image_tokens, p->image_tokens);
  EXPECT_GT(BuffersBytes(*big, 16384), BuffersBytes(*p, 16384));
  o.image_width = 1080 * 201;  // aspect ratio over 200
  EXPECT_FALSE(MakePlan(Config("GLM-4.1V-9B-Thinking"), o).ok());
  int64_t w = 0, h = 0;
  EXPECT_TRUE(ParseImageSize("1920x1080", &w, &h).ok());
  EXPECT_EQ(w, 1920);
  EXPECT_EQ(h, 1080);
  EXPECT_FALSE(ParseImageSize("1920", &w, &h).ok());
  EXPECT_FALSE(ParseImageSize("0x5", &w, &h).ok());
  EXPECT_FALSE(ParseImageSize("100001x5", &w, &h).ok());
}

TEST(PlanUnits, ParseByteSize) {
  EXPECT_EQ(*ParseByteSize("24G"), 24ull << 30);
  EXPECT_EQ(*ParseByteSize("80GiB"), 80ull << 30);
  EXPECT_EQ(*ParseByteSize("141 GiB"), 141ull << 30);
  EXPECT_EQ(*ParseByteSize("24GB"), 24000000000ull);
  EXPECT_EQ(*ParseByteSize("512m"), 512ull << 20);
  EXPECT_EQ(*ParseByteSize("1.5G"), 3ull << 29);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("24X").ok());
  EXPECT_FALSE(ParseByteSize("0G").ok());
  EXPECT_EQ(ContextLabel(131072), "128K");
  EXPECT_EQ(ContextLabel(1048576), "1M");
}

TEST(PlanSvg, HasAxesCardsAndOneCurvePerSchemeAndKvType) {
  absl::StatusOr<Plan> p = MakePlan(Config("glm-4-9b-chat-1m"), PlanOptions());
  ASSERT_TRUE(p.ok());
  const std::string svg = RenderSvg(*p, "glm-4-9b-chat-1m <&>");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>\n"), std::string::npos);
  size_t polylines = 0;
  for (size_t i = svg.find("<polyline"); i != std::string::npos; i = svg.find("<polyline", i + 1))
    ++polylines;
  EXPECT_EQ(polylines, p->weights.size() * 2);
  for (const char* label : {"24 GiB card", "48 GiB card", "80 GiB card", "141 GiB card", "1M",
                            "VRAM (GiB)", "&lt;&amp;&gt;", "int4-g128, KV int8"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
}

}  // namespace
}  // namespace glmq::plan
