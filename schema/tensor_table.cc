// The rows of the GLM-4 tensor table (schema/tensors.h): the text model of
// every layout, then the two vision towers. Adding a tensor is adding a row
// here (plus the math that uses it).
#include "schema/tensors.h"

namespace glmq {
namespace {

using D = Dim;
using S = Scope;
using W = When;
using In = LinearInput;

constexpr uint32_t kChatglm = LayoutBit(pb::LAYOUT_CHATGLM) | LayoutBit(pb::LAYOUT_CHATGLM_VISION);
constexpr uint32_t kHf =
    LayoutBit(pb::LAYOUT_GLM) | LayoutBit(pb::LAYOUT_GLM4) | LayoutBit(pb::LAYOUT_GLM4V);
constexpr uint32_t kHf4 = LayoutBit(pb::LAYOUT_GLM4) | LayoutBit(pb::LAYOUT_GLM4V);
constexpr uint32_t kEva = LayoutBit(pb::LAYOUT_CHATGLM_VISION);
constexpr uint32_t kVit = LayoutBit(pb::LAYOUT_GLM4V);

constexpr absl::string_view kCg = "transformer.encoder.layers.{i}.";
constexpr absl::string_view kEv = "transformer.vision.";
constexpr absl::string_view kEvBlk = "transformer.vision.transformer.layers.{i}.";
constexpr absl::string_view kVi = "model.visual.";

std::string P(absl::string_view prefix, absl::string_view rest) {
  return std::string(prefix) + std::string(rest);
}

// A row with one HF tensor per layout group.
HfSource One(uint32_t layouts, std::string pattern, std::vector<Dim> shape) {
  return {layouts, {{std::move(pattern), std::move(shape)}}};
}

std::vector<TensorDef> TextRows() {
  return {
      {"",
       pb::ROLE_OTHER,
       S::kHead,
       {D::kInvFreq},
       W::kAlways,
       In::kNone,
       {One(kChatglm, "transformer.rotary_pos_emb.inv_freq", {D::kInvFreq})},
       "computed with base 10000 (rope_ratio not applied); never used by the real forward pass"},
      {"token_embd.weight",
       pb::ROLE_TOKEN_EMBD,
       S::kHead,
       {D::kVocab, D::kHidden},
       W::kAlways,
       In::kNone,
       {One(kChatglm, "transformer.embedding.word_embeddings.weight", {D::kVocab, D::kHidden}),
        One(kHf, "{lm}embed_tokens.weight", {D::kVocab, D::kHidden})},
       ""},
      {"blk.{i}.attn_norm.weight",
       pb::ROLE_ATTN_NORM,
       S::kBlock,
       {D::kHidden},
       W::kAlways,
       In::kNone,
       {One(kChatglm, P(kCg, "input_layernorm.weight"), {D::kHidden}),
        One(kHf, "{lm}layers.{i}.input_layernorm.weight", {D::kHidden})},
       "RMSNorm before attention"},
      {"blk.{i}.attn_qkv.weight",
       pb::ROLE_ATTN_QKV,
       S::kBlock,
       {D::kQkv, D::kHidden},
       W::kAlways,
       In::kAttnQkv,
       {One(kChatglm, P(kCg, "self_attention.query_key_value.weight"), {D::kQkv, D::kHidden}),
        {kHf,
         {{"{lm}layers.{i}.self_attn.q_proj.weight", {D::kQ, D::kHidden}},
          {"{lm}layers.{i}.self_attn.k_proj.weight", {D::kKv, D::kHidden}},
          {"{lm}layers.{i}.self_attn.v_proj.weight", {D::kKv, D::kHidden}}}}},
       "rows q | k | v"},
      {"blk.{i}.attn_qkv.bias",
       pb::ROLE_ATTN_QKV_BIAS,
       S::kBlock,
       {D::kQkv},
       W::kQkvBias,
       In::kNone,
       {One(kChatglm, P(kCg, "self_attention.query_key_value.bias"), {D::kQkv}),
        {kHf,
         {{"{lm}layers.{i}.self_attn.q_proj.bias", {D::kQ}},
          {"{lm}layers.{i}.self_attn.k_proj.bias", {D::kKv}},
          {"{lm}layers.{i}.self_attn.v_proj.bias", {D::kKv}}}}},
       ""},
      {"blk.{i}.attn_output.weight",
       pb::ROLE_ATTN_OUTPUT,
       S::kBlock,
       {D::kHidden, D::kQ},
       W::kAlways,
       In::kAttnOutput,
       {One(kChatglm, P(kCg, "self_attention.dense.weight"), {D::kHidden, D::kQ}),
        One(kHf, "{lm}layers.{i}.self_attn.o_proj.weight", {D::kHidden, D::kQ})},
       ""},
      {"blk.{i}.attn_output.bias",
       pb::ROLE_ATTN_OUTPUT_BIAS,
       S::kBlock,
       {D::kHidden},
       W::kAttnOutputBias,
       In::kNone,
       {One(kChatglm, P(kCg, "self_attention.dense.bias"), {D::kHidden})},
       ""},
      {"blk.{i}.post_attn_norm.weight",
       pb::ROLE_POST_ATTN_NORM,
       S::kBlock,
       {D::kHidden},
       W::kAlways,
       In::kNone,
       {One(kHf4, "{lm}layers.{i}.post_self_attn_layernorm.weight", {D::kHidden})},
       "GLM-4-0414 and GLM-4.1V only"},
      {"blk.{i}.ffn_norm.weight",
       pb::ROLE_FFN_NORM,
       S::kBlock,
       {D::kHidden},
       W::kAlways,
       In::kNone,
       {One(kChatglm, P(kCg, "post_attention_layernorm.weight"), {D::kHidden}),
        One(kHf, "{lm}layers.{i}.post_attention_layernorm.weight", {D::kHidden})},
       "RMSNorm before the MLP (HF's post_attention_layernorm)"},
      {"blk.{i}.ffn_gate_up.weight",
       pb::ROLE_FFN_GATE_UP,
       S::kBlock,
       {D::kFfn2, D::kHidden},
       W::kAlways,
       In::kFfnGateUp,
       {One(kChatglm, P(kCg, "mlp.dense_h_to_4h.weight"), {D::kFfn2, D::kHidden}),
        One(kHf, "{lm}layers.{i}.mlp.gate_up_proj.weight", {D::kFfn2, D::kHidden})},
       "rows gate | up (SwiGLU: silu(gate) * up)"},
      {"blk.{i}.ffn_gate_up.bias",
       pb::ROLE_FFN_GATE_UP_BIAS,
       S::kBlock,
       {D::kFfn2},
       W::kMlpBias,
       In::kNone,
       {One(kChatglm, P(kCg, "mlp.dense_h_to_4h.bias"), {D::kFfn2})},
       ""},
      {"blk.{i}.ffn_down.weight",
       pb::ROLE_FFN_DOWN,
       S::kBlock,
       {D::kHidden, D::kFfn},
       W::kAlways,
       In::kFfnDown,
       {One(kChatglm, P(kCg, "mlp.dense_4h_to_h.weight"), {D::kHidden, D::kFfn}),
        One(kHf, "{lm}layers.{i}.mlp.down_proj.weight", {D::kHidden, D::kFfn})},
       ""},
      {"blk.{i}.ffn_down.bias",
       pb::ROLE_FFN_DOWN_BIAS,
       S::kBlock,
       {D::kHidden},
       W::kMlpBias,
       In::kNone,
       {One(kChatglm, P(kCg, "mlp.dense_4h_to_h.bias"), {D::kHidden})},
       ""},
      {"blk.{i}.post_ffn_norm.weight",
       pb::ROLE_POST_FFN_NORM,
       S::kBlock,
       {D::kHidden},
       W::kAlways,
       In::kNone,
       {One(kHf4, "{lm}layers.{i}.post_mlp_layernorm.weight", {D::kHidden})},
       "GLM-4-0414 and GLM-4.1V only"},
      {"output_norm.weight",
       pb::ROLE_OUTPUT_NORM,
       S::kTail,
       {D::kHidden},
       W::kAlways,
       In::kNone,
       {One(kChatglm, "transformer.encoder.final_layernorm.weight", {D::kHidden}),
        One(kHf, "{lm}norm.weight", {D::kHidden})},
       ""},
      {"output.weight",
       pb::ROLE_OUTPUT,
       S::kTail,
       {D::kVocab, D::kHidden},
       W::kUntied,
       In::kOutput,
       {One(kChatglm, "transformer.output_layer.weight", {D::kVocab, D::kHidden}),
        One(kHf, "lm_head.weight", {D::kVocab, D::kHidden})},
       "absent if tied_embeddings (no GLM-4 is tied)"},
  };
}

// A vision row kept under one layout: canonical shape = the HF shape.
TensorDef V(absl::string_view name, Scope scope, uint32_t layout, std::string hf,
            std::vector<Dim> shape) {
  return {name,
          pb::ROLE_VISION,
          scope,
          shape,
          W::kAlways,
          In::kNone,
          {One(layout, std::move(hf), shape)},
          ""};
}

// A vision row the runtime needs dense (TensorDef::keep_dense).
TensorDef Dense(TensorDef d) {
  d.keep_dense = true;
  return d;
}

// A convolution stored as the matrix over its receptive field: canonical
// [out, in·k...] (same bytes, row-major), HF [out, in, k...].
TensorDef Conv(absl::string_view name, Scope scope, uint32_t layout, std::string hf,
               std::vector<Dim> matrix, std::vector<Dim> hf_shape) {
  return {name,
          pb::ROLE_VISION,
          scope,
          std::move(matrix),
          W::kAlways,
          In::kNone,
          {One(layout, std::move(hf), std::move(hf_shape))},
          "convolution as a matrix over its receptive field"};
}

// glm-4v-9b: EVA2-CLIP (post-norm LayerNorm blocks, biased linears, GELU
// MLP), a 2x2 stride-2 conv, then a SwiGLU adapter as wide as the text FFN.
std::vector<TensorDef> Eva2ClipRows() {
  const uint32_t e = kEva;
  return {
      Conv("v.patch_embd.weight", S::kVisionHead, e, P(kEv, "patch_embedding.proj.weight"),
           {D::kVHidden, D::kVPatchIn}, {D::kVHidden, D::kVIn, D::kVPatch, D::kVPatch}),
      V("v.patch_embd.bias", S::kVisionHead, e, P(kEv, "patch_embedding.proj.bias"), {D::kVHidden}),
      Dense(V("v.cls_embd", S::kVisionHead, e, P(kEv, "patch_embedding.cls_embedding"),
              {D::kOne, D::kVHidden})),
      Dense(V("v.position_embd.weight", S::kVisionHead, e,
              P(kEv, "patch_embedding.position_embedding.weight"), {D::kVPositions, D::kVHidden})),
      V("v.blk.{i}.attn_qkv.weight", S::kVisionBlock, e,
        P(kEvBlk, "attention.query_key_value.weight"), {D::kV3Hidden, D::kVHidden}),
      V("v.blk.{i}.attn_qkv.bias", S::kVisionBlock, e, P(kEvBlk, "attention.query_key_value.bias"),
        {D::kV3Hidden}),
      V("v.blk.{i}.attn_output.weight", S::kVisionBlock, e, P(kEvBlk, "attention.dense.weight"),
        {D::kVHidden, D::kVHidden}),
      V("v.blk.{i}.attn_output.bias", S::kVisionBlock, e, P(kEvBlk, "attention.dense.bias"),
        {D::kVHidden}),
      V("v.blk.{i}.attn_norm.weight", S::kVisionBlock, e, P(kEvBlk, "input_layernorm.weight"),
        {D::kVHidden}),
      V("v.blk.{i}.attn_norm.bias", S::kVisionBlock, e, P(kEvBlk, "input_layernorm.bias"),
        {D::kVHidden}),
      V("v.blk.{i}.ffn_up.weight", S::kVisionBlock, e, P(kEvBlk, "mlp.fc1.weight"),
        {D::kVMlp, D::kVHidden}),
      V("v.blk.{i}.ffn_up.bias", S::kVisionBlock, e, P(kEvBlk, "mlp.fc1.bias"), {D::kVMlp}),
      V("v.blk.{i}.ffn_down.weight", S::kVisionBlock, e, P(kEvBlk, "mlp.fc2.weight"),
        {D::kVHidden, D::kVMlp}),
      V("v.blk.{i}.ffn_down.bias", S::kVisionBlock, e, P(kEvBlk, "mlp.fc2.bias"), {D::kVHidden}),
      V("v.blk.{i}.ffn_norm.weight", S::kVisionBlock, e,
        P(kEvBlk, "post_attention_layernorm.weight"), {D::kVHidden}),
      V("v.blk.{i}.ffn_norm.bias", S::kVisionBlock, e, P(kEvBlk, "post_attention_layernorm.bias"),
        {D::kVHidden}),
      Conv("v.downsample.weight", S::kVisionTail, e, P(kEv, "conv.weight"),
           {D::kVOut, D::kVMergeIn}, {D::kVOut, D::kVHidden, D::kVMerge, D::kVMerge}),
      V("v.downsample.bias", S::kVisionTail, e, P(kEv, "conv.bias"), {D::kVOut}),
      V("v.proj.weight", S::kVisionTail, e, P(kEv, "linear_proj.linear_proj.weight"),
        {D::kVOut, D::kVOut}),
      V("v.proj_norm.weight", S::kVisionTail, e, P(kEv, "linear_proj.norm1.weight"), {D::kVOut}),
      V("v.proj_norm.bias", S::kVisionTail, e, P(kEv, "linear_proj.norm1.bias"), {D::kVOut}),
      V("v.proj_gate.weight", S::kVisionTail, e, P(kEv, "linear_proj.gate_proj.weight"),
        {D::kVMerger, D::kVOut}),
      V("v.proj_up.weight", S::kVisionTail, e, P(kEv, "linear_proj.dense_h_to_4h.weight"),
        {D::kVMerger, D::kVOut}),
      V("v.proj_down.weight", S::kVisionTail, e, P(kEv, "linear_proj.dense_4h_to_h.weight"),
        {D::kVOut, D::kVMerger}),
      Dense(V("v.boi", S::kVisionTail, e, P(kEv, "boi"), {D::kOne, D::kOne, D::kVOut})),
      Dense(V("v.eoi", S::kVisionTail, e, P(kEv, "eoi"), {D::kOne, D::kOne, D::kVOut})),
  };
}

// GLM-4.1V: AIMv2-style ViT (RMSNorm, no biases, SwiGLU MLP as wide as
// out_hidden_size), Conv3d patches over temporal_patch_size frames, a 2x2
// downsample conv, then a SwiGLU merger of width vision.ffn_hidden_size.
std::vector<TensorDef> Glm4vVitRows() {
  const uint32_t v = kVit;
  const absl::string_view b = "model.visual.blocks.{i}.";
  return {
      Conv("v.patch_embd.weight", S::kVisionHead, v, P(kVi, "patch_embed.proj.weight"),
           {D::kVHidden, D::kVPatchIn},
           {D::kVHidden, D::kVIn, D::kVTemporal, D::kVPatch, D::kVPatch}),
      V("v.patch_embd.bias", S::kVisionHead, v, P(kVi, "patch_embed.proj.bias"), {D::kVHidden}),
      V("v.post_conv_norm.weight", S::kVisionHead, v, P(kVi, "post_conv_layernorm.weight"),
        {D::kVHidden}),
      Dense(V("v.position_embd.weight", S::kVisionHead, v,
              P(kVi, "embeddings.position_embedding.weight"), {D::kVPositions, D::kVHidden})),
      V("v.blk.{i}.attn_norm.weight", S::kVisionBlock, v, P(b, "norm1.weight"), {D::kVHidden}),
      V("v.blk.{i}.attn_qkv.weight", S::kVisionBlock, v, P(b, "attn.qkv.weight"),
        {D::kV3Hidden, D::kVHidden}),
      {"v.blk.{i}.attn_qkv.bias",
       pb::ROLE_VISION,
       S::kVisionBlock,
       {D::kV3Hidden},
       W::kVisionQkvBias,
       In::kNone,
       {One(v, P(b, "attn.qkv.bias"), {D::kV3Hidden})},
       "only with vision_config.attention_bias (false in GLM-4.1V-9B)"},
      V("v.blk.{i}.attn_output.weight", S::kVisionBlock, v, P(b, "attn.proj.weight"),
        {D::kVHidden, D::kVHidden}),
      V("v.blk.{i}.ffn_norm.weight", S::kVisionBlock, v, P(b, "norm2.weight"), {D::kVHidden}),
      V("v.blk.{i}.ffn_gate.weight", S::kVisionBlock, v, P(b, "mlp.gate_proj.weight"),
        {D::kVMlp, D::kVHidden}),
      V("v.blk.{i}.ffn_up.weight", S::kVisionBlock, v, P(b, "mlp.up_proj.weight"),
        {D::kVMlp, D::kVHidden}),
      V("v.blk.{i}.ffn_down.weight", S::kVisionBlock, v, P(b, "mlp.down_proj.weight"),
        {D::kVHidden, D::kVMlp}),
      V("v.post_norm.weight", S::kVisionTail, v, P(kVi, "post_layernorm.weight"), {D::kVHidden}),
      Conv("v.downsample.weight", S::kVisionTail, v, P(kVi, "downsample.weight"),
           {D::kVOut, D::kVMergeIn}, {D::kVOut, D::kVHidden, D::kVMerge, D::kVMerge}),
      V("v.downsample.bias", S::kVisionTail, v, P(kVi, "downsample.bias"), {D::kVOut}),
      V("v.proj.weight", S::kVisionTail, v, P(kVi, "merger.proj.weight"), {D::kVOut, D::kVOut}),
      V("v.proj_norm.weight", S::kVisionTail, v, P(kVi, "merger.post_projection_norm.weight"),
        {D::kVOut}),
      V("v.proj_norm.bias", S::kVisionTail, v, P(kVi, "merger.post_projection_norm.bias"),
        {D::kVOut}),
      V("v.proj_gate.weight", S::kVisionTail, v, P(kVi, "merger.gate_proj.weight"),
        {D::kVMerger, D::kVOut}),
      V("v.proj_up.weight", S::kVisionTail, v, P(kVi, "merger.up_proj.weight"),
        {D::kVMerger, D::kVOut}),
      V("v.proj_down.weight", S::kVisionTail, v, P(kVi, "merger.down_proj.weight"),
        {D::kVOut, D::kVMerger}),
  };
}

}  // namespace

const std::vector<TensorDef>& TensorTable() {
  static const std::vector<TensorDef>* table = [] {
    auto* t = new std::vector<TensorDef>(TextRows());
    for (auto rows : {Eva2ClipRows(), Glm4vVitRows()})
      t->insert(t->end(), rows.begin(), rows.end());
    return t;
  }();
  return *table;
}

}  // namespace glmq
