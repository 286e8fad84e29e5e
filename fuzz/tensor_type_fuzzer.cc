// --tensor-type rules (one per line) compiled into a QuantScheme and matched
// against every tensor of a GLM-4-9B-shaped model.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "quant/scheme.h"
#include "schema/tensors.h"

namespace {

const std::vector<glmq::pb::TensorEntry>& Entries() {
  static const auto* entries = [] {
    glmq::pb::HParams hp;
    hp.set_layout(glmq::pb::LAYOUT_CHATGLM);
    hp.set_n_layers(40);
    hp.set_hidden_size(4096);
    hp.set_n_heads(32);
    hp.set_n_kv_heads(2);
    hp.set_head_dim(128);
    hp.set_ffn_hidden_size(13696);
    hp.set_padded_vocab_size(151552);
    hp.set_vocab_size(151552);
    hp.set_max_context(131072);
    hp.set_rope_dims(64);
    hp.set_rope_interleaved(true);
    hp.set_rope_base(10000);
    hp.set_norms_per_layer(2);
    hp.set_norm_eps(1.5625e-07);
    hp.set_qkv_bias(true);
    auto* out = new std::vector<glmq::pb::TensorEntry>();
    const auto tensors = glmq::ModelTensors(hp);
    for (const auto& t : *tensors) {
      glmq::pb::TensorEntry e;
      e.set_name(t.name);
      e.set_encoding(glmq::pb::ENCODING_BF16);
      for (int64_t d : t.shape) e.add_shape(d);
      out->push_back(e);
    }
    return out;
  }();
  return *entries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> rules = absl::StrSplit(in, '\n', absl::SkipEmpty());
  auto scheme = glmq::QuantScheme::Create(rules.empty() ? "int4-g128" : "none", rules, 40);
  if (!scheme.ok()) return 0;
  for (const auto& e : Entries()) (void)scheme->Choose(e);
  return 0;
}
