// The three GLM-4 text layouts as data. Canonical names: specs/glm4-tensors.md.
#include "convert/layout.h"

namespace glmq {
namespace {

using D = Dim;
using W = When;

// chatglm (THUDM/glm-4-9b, -chat, -chat-1m): fused qkv and gate|up already.
const LayoutTable kChatglm = {
    pb::LAYOUT_CHATGLM,
    {{pb::ROLE_TOKEN_EMBD, "token_embd.weight",
      {{"transformer.embedding.word_embeddings.weight", D::kVocab, D::kHidden}}, W::kAlways}},
    {
        {pb::ROLE_ATTN_NORM, "blk.{i}.attn_norm.weight",
         {{"transformer.encoder.layers.{i}.input_layernorm.weight", D::kHidden, D::kNone}},
         W::kAlways},
        {pb::ROLE_ATTN_QKV, "blk.{i}.attn_qkv.weight",
         {{"transformer.encoder.layers.{i}.self_attention.query_key_value.weight", D::kQkv,
           D::kHidden}},
         W::kAlways},
        {pb::ROLE_ATTN_QKV_BIAS, "blk.{i}.attn_qkv.bias",
         {{"transformer.encoder.layers.{i}.self_attention.query_key_value.bias", D::kQkv,
           D::kNone}},
         W::kQkvBias},
        {pb::ROLE_ATTN_OUTPUT, "blk.{i}.attn_output.weight",
         {{"transformer.encoder.layers.{i}.self_attention.dense.weight", D::kHidden, D::kQ}},
         W::kAlways},
        {pb::ROLE_FFN_NORM, "blk.{i}.ffn_norm.weight",
         {{"transformer.encoder.layers.{i}.post_attention_layernorm.weight", D::kHidden,
           D::kNone}},
         W::kAlways},
        {pb::ROLE_FFN_GATE_UP, "blk.{i}.ffn_gate_up.weight",
         {{"transformer.encoder.layers.{i}.mlp.dense_h_to_4h.weight", D::kFfn2, D::kHidden}},
         W::kAlways},
        {pb::ROLE_FFN_DOWN, "blk.{i}.ffn_down.weight",
         {{"transformer.encoder.layers.{i}.mlp.dense_4h_to_h.weight", D::kHidden, D::kFfn}},
         W::kAlways},
    },
    {{pb::ROLE_OUTPUT_NORM, "output_norm.weight",
      {{"transformer.encoder.final_layernorm.weight", D::kHidden, D::kNone}}, W::kAlways},
     {pb::ROLE_OUTPUT, "output.weight",
      {{"transformer.output_layer.weight", D::kVocab, D::kHidden}}, W::kUntied}},
    // Computed with base 10000 (rope_ratio not applied); the forward pass
    // recomputes it, so it is never used.
    {{"transformer.rotary_pos_emb.inv_freq", D::kInvFreq, D::kNone}},
};

// Attention + MLP rules shared by glm and glm4 (q/k/v_proj merged by rows).
std::vector<TensorRule> HfBlock(bool four_norms) {
  std::vector<TensorRule> r = {
      {pb::ROLE_ATTN_NORM, "blk.{i}.attn_norm.weight",
       {{"model.layers.{i}.input_layernorm.weight", D::kHidden, D::kNone}}, W::kAlways},
      {pb::ROLE_ATTN_QKV, "blk.{i}.attn_qkv.weight",
       {{"model.layers.{i}.self_attn.q_proj.weight", D::kQ, D::kHidden},
        {"model.layers.{i}.self_attn.k_proj.weight", D::kKv, D::kHidden},
        {"model.layers.{i}.self_attn.v_proj.weight", D::kKv, D::kHidden}},
       W::kAlways},
      {pb::ROLE_ATTN_QKV_BIAS, "blk.{i}.attn_qkv.bias",
       {{"model.layers.{i}.self_attn.q_proj.bias", D::kQ, D::kNone},
        {"model.layers.{i}.self_attn.k_proj.bias", D::kKv, D::kNone},
        {"model.layers.{i}.self_attn.v_proj.bias", D::kKv, D::kNone}},
       W::kQkvBias},
      {pb::ROLE_ATTN_OUTPUT, "blk.{i}.attn_output.weight",
       {{"model.layers.{i}.self_attn.o_proj.weight", D::kHidden, D::kQ}}, W::kAlways},
  };
  if (four_norms) {
    r.push_back({pb::ROLE_POST_ATTN_NORM, "blk.{i}.post_attn_norm.weight",
                 {{"model.layers.{i}.post_self_attn_layernorm.weight", D::kHidden, D::kNone}},
                 W::kAlways});
  }
  r.push_back({pb::ROLE_FFN_NORM, "blk.{i}.ffn_norm.weight",
               {{"model.layers.{i}.post_attention_layernorm.weight", D::kHidden, D::kNone}},
               W::kAlways});
  r.push_back({pb::ROLE_FFN_GATE_UP, "blk.{i}.ffn_gate_up.weight",
               {{"model.layers.{i}.mlp.gate_up_proj.weight", D::kFfn2, D::kHidden}},
               W::kAlways});
  r.push_back({pb::ROLE_FFN_DOWN, "blk.{i}.ffn_down.weight",
               {{"model.layers.{i}.mlp.down_proj.weight", D::kHidden, D::kFfn}}, W::kAlways});
  if (four_norms) {
    r.push_back({pb::ROLE_POST_FFN_NORM, "blk.{i}.post_ffn_norm.weight",
                 {{"model.layers.{i}.post_mlp_layernorm.weight", D::kHidden, D::kNone}},
                 W::kAlways});
  }
  return r;
}

LayoutTable HfTable(pb::Layout layout, bool four_norms) {
  return {layout,
          {{pb::ROLE_TOKEN_EMBD, "token_embd.weight",
            {{"model.embed_tokens.weight", D::kVocab, D::kHidden}}, W::kAlways}},
          HfBlock(four_norms),
          {{pb::ROLE_OUTPUT_NORM, "output_norm.weight",
            {{"model.norm.weight", D::kHidden, D::kNone}}, W::kAlways},
           {pb::ROLE_OUTPUT, "output.weight", {{"lm_head.weight", D::kVocab, D::kHidden}},
            W::kUntied}},
          {}};
}

}  // namespace

const LayoutTable* FindLayoutTable(pb::Layout layout) {
  // glm (glm-4-9b-chat-hf, GlmForCausalLM): 2 norms per layer.
  static const LayoutTable glm = HfTable(pb::LAYOUT_GLM, false);
  // glm4 (GLM-4-*-0414, Glm4ForCausalLM): 4 norms per layer.
  static const LayoutTable glm4 = HfTable(pb::LAYOUT_GLM4, true);
  switch (layout) {
    case pb::LAYOUT_CHATGLM: return &kChatglm;
    case pb::LAYOUT_GLM: return &glm;
    case pb::LAYOUT_GLM4: return &glm4;
    default: return nullptr;
  }
}

}  // namespace glmq
