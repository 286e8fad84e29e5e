// Fake-quant experiment for "keep the N most outlying input columns of each
// linear at f16" (issue: quantization that survives outlier channels): writes
// an f32 .glmq whose linears are deq(Q(W with the kept columns zeroed)) with
// the kept columns restored exactly (f16-rounded), so `glmq eval kld` shows
// what the mixed-precision format would give before any format change, and
// prints the bits/weight the real format would cost (main tensor + f16
// columns + i32 indices).
//
//   keep_columns_experiment IN.glmq STATS OUT.glmq SCHEME METHOD N
//
// METHOD: rtn or any `glmq quantize --method` (imatrix, awq, gptq, awq+gptq).
// Column score: max(sqrt(E[x_j^2] / median), rms_j(W) / median) of the
// weight as the quantizer sees it (after the method's fold): the columns
// whose activations or weights most exceed the typical ones.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "format/writer.h"
#include "pipeline/calib_data.h"
#include "pipeline/source.h"
#include "quant/calib/calib_method.h"
#include "quant/method.h"
#include "quant/reference.h"
#include "quant/scheme.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// The n columns of largest outlier ratio. w0: before the method's fold, w:
// after; the input of w is x / s with s_j ~ rms_j(w) / rms_j(w0).
std::vector<int64_t> KeptColumns(const std::vector<float>& w0, const std::vector<float>& w,
                                 int64_t rows, int64_t cols, const InputStats& st, int64_t n) {
  std::vector<double> rms0(cols, 0), rms(cols, 0), act(cols), score(cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      rms0[j] += double(w0[r * cols + j]) * w0[r * cols + j];
      rms[j] += double(w[r * cols + j]) * w[r * cols + j];
    }
  for (int64_t j = 0; j < cols; ++j) {
    const double s2 = rms0[j] > 0 ? rms[j] / rms0[j] : 1.0;
    act[j] = st.sum_x2[j] / st.count / s2;
  }
  const double ma = Median(act), mw = Median(rms);
  for (int64_t j = 0; j < cols; ++j)
    score[j] = std::max(std::sqrt(act[j] / ma), std::sqrt(rms[j] / mw));
  std::vector<int64_t> idx(cols);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                    [&](int64_t a, int64_t b) { return score[a] > score[b]; });
  idx.resize(n);
  return idx;
}

absl::Status Run(const std::string& in, const std::string& stats_path, const std::string& out,
                 const std::string& scheme_name, const std::string& method_name, int64_t keep) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<TensorSource> src, OpenGlmqSource(in));
  const pb::ModelMetadata& meta = src->metadata();
  std::vector<std::string> rules;  // env TENSOR_TYPE: one --tensor-type rule
  if (const char* tt = std::getenv("TENSOR_TYPE"); tt && *tt) rules.push_back(tt);
  GLMQ_ASSIGN_OR_RETURN(QuantScheme scheme,
                        QuantScheme::Create(scheme_name, rules, meta.hparams().n_layers()));
  auto find = [&src](const std::string& name) { return src->FindTensor(name); };
  auto read = [&](const pb::TensorEntry& e) -> absl::StatusOr<std::vector<float>> {
    std::vector<float> w(static_cast<size_t>(TensorRows(e) * TensorCols(e)));
    GLMQ_RETURN_IF_ERROR(src->ReadRowsF32(e, 0, TensorRows(e), w.data()));
    return w;
  };
  calib::WeightFn weights = [&](const std::string& name) -> absl::StatusOr<std::vector<float>> {
    const pb::TensorEntry* e = find(name);
    if (e == nullptr) return absl::NotFoundError(name);
    return read(*e);
  };
  // The column scores read the statistics through their own reader.
  GLMQ_ASSIGN_OR_RETURN(CalibData stats, OpenCalibData(stats_path, meta.hparams(), weights, false));
  std::unique_ptr<QuantMethod> method;
  if (method_name == "rtn") {
    method = MakeRtnMethod();
  } else {
    CalibMethodOptions co;
    co.method = method_name;
    calib::SpecFn spec = [&](const std::string& name) -> std::optional<QuantSpec> {
      const pb::TensorEntry* e = find(name);
      if (e == nullptr) return std::nullopt;
      const pb::QuantRule rule = scheme.Choose(*e);
      const EncodingTraits* t = FindEncoding(rule.encoding());
      if (t == nullptr || !t->quantized) return std::nullopt;
      return QuantSpec{rule.encoding(), rule.group_size()};
    };
    GLMQ_ASSIGN_OR_RETURN(CalibData data,
                          OpenCalibData(stats_path, meta.hparams(), weights, UsesAwqPlan(co)));
    GLMQ_ASSIGN_OR_RETURN(method,
                          MakeCalibratedMethod(co, meta.hparams(), std::move(data), weights, spec));
  }
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWriter> writer, GlmqWriter::Create(out));
  writer->metadata() = meta;
  writer->metadata().clear_tensors();
  writer->metadata().clear_tensor_alignment();
  double bits = 0, values = 0, keep_bits = 0;
  for (const pb::TensorEntry& e : meta.tensors()) {
    const int64_t rows = TensorRows(e), cols = TensorCols(e);
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> w0, read(e));
    std::vector<float> w = w0;
    if (method->Transforms(e))
      GLMQ_RETURN_IF_ERROR(method->TransformRows(e, w.data(), 0, rows, cols));
    const pb::QuantRule rule = scheme.Choose(e);
    const EncodingTraits* t = FindEncoding(rule.encoding());
    values += double(rows) * cols;
    if (t == nullptr || !t->quantized) {
      bits += double(rows) * cols * (method->Transforms(e) && e.shape_size() == 1 ? 32 : 16);
    } else {
      QuantSpec spec{rule.encoding(), rule.group_size()};
      std::vector<int64_t> kept;
      if (keep > 0 && stats.has(e.name())) {
        GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> st, stats.stats(e.name()));
        kept = KeptColumns(w0, w, rows, cols, *st, std::min(keep, cols));
      }
      std::vector<float> wz = w;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j : kept) wz[r * cols + j] = 0.f;
      GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                            GetGroupGeometry(spec.encoding, spec.group_size, cols));
      std::vector<uint8_t> q(static_cast<size_t>(rows * geo.row_bytes));
      pb::TensorEntry job_entry = e;
      job_entry.set_encoding(rule.encoding());
      job_entry.set_group_size(rule.group_size());
      TensorQuantJob job{&job_entry, spec, rows, cols};
      QuantStats qs;
      GLMQ_RETURN_IF_ERROR(method->BeginTensor(job));
      GLMQ_RETURN_IF_ERROR(method->QuantizeRows(job, wz.data(), 0, rows, q.data(), &qs));
      GLMQ_RETURN_IF_ERROR(method->EndTensor(job));
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> deq(cols);
        DequantizeRowRef(geo, q.data() + r * geo.row_bytes, cols, deq.data());
        for (int64_t j = 0; j < cols; ++j) w[r * cols + j] = deq[j];
      }
      // The kept columns exactly (f16), from the folded weights.
      std::vector<float> wt = w0;
      if (method->Transforms(e))
        GLMQ_RETURN_IF_ERROR(method->TransformRows(e, wt.data(), 0, rows, cols));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j : kept) w[r * cols + j] = F16ToF32(F16Nearest(wt[r * cols + j]));
      const double kb = double(kept.size()) * (rows * 16 + 32);
      keep_bits += kb;
      bits += double(rows) * geo.row_bytes * 8 + kb;
    }
    pb::TensorEntry oe = e;
    oe.clear_offset();
    oe.clear_size();
    oe.clear_xxh64();
    oe.set_encoding(pb::ENCODING_F32);
    oe.set_group_size(0);
    GLMQ_RETURN_IF_ERROR(writer->AddTensor(
        oe, {reinterpret_cast<const uint8_t*>(w.data()), w.size() * sizeof(float)}));
  }
  GLMQ_RETURN_IF_ERROR(writer->Finish());
  std::printf("{\"bpw\": %.4f, \"keep_bpw\": %.4f}\n", bits / values, keep_bits / values);
  return absl::OkStatus();
}

}  // namespace
}  // namespace glmq

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s IN.glmq STATS OUT.glmq SCHEME METHOD N\n", argv[0]);
    return 2;
  }
  absl::Status s = glmq::Run(argv[1], argv[2], argv[3], argv[4], argv[5], std::atoll(argv[6]));
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
