// Text, JSON, CSV and SVG of a MeasureReport (plan/measure.h).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/json.h"
#include "plan/measure.h"
#include "plan/report.h"

namespace glmq::plan {
namespace {

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

double Gib(uint64_t bytes) { return static_cast<double>(bytes) / (1ull << 30); }

bool AnySynthetic(const MeasureReport& r) {
  return std::any_of(r.rows.begin(), r.rows.end(),
                     [](const MeasureRow& m) { return m.synthetic_kv; });
}

}  // namespace

std::string RenderMeasureText(const MeasureReport& r) {
  std::string out = absl::StrCat("VRAM measured for ", r.model, " on ", r.device.device, " (",
                                 r.device.card, ", driver ", r.device.driver, ", CUDA ",
                                 r.device.cuda_version, ", ", r.device.sms, " SMs)\n");
  absl::StrAppend(&out, "KV ", r.kv, ", prefill chunk ", r.prefill_chunk,
                  r.all_logits ? " (logits for every chunk row)" : " (last row's logits)", "; ",
                  r.device.method, "\n");
  absl::StrAppend(&out,
                  "each row: weights, KV for the context, working buffers; one prefill "
                  "chunk and one decode step at the last positions\n");
  if (AnySynthetic(r))
    absl::StrAppend(&out,
                    "rows marked * hold synthetic KV contents before the last chunk "
                    "(no full prefill): same bytes, random values\n");
  absl::StrAppend(&out, absl::StrFormat("\n%9s %16s %16s %9s %10s %10s\n", "context", "predicted",
                                        "measured", "diff %", "pred GiB", "meas GiB"));
  for (const MeasureRow& m : r.rows) {
    absl::StrAppend(
        &out, absl::StrFormat("%8s%s %16d %16d %+9.2f %10.2f %10.2f%s\n", ContextLabel(m.context),
                              m.synthetic_kv ? "*" : " ", m.predicted.total(), m.measured,
                              m.diff_percent, Gib(m.predicted.total()), Gib(m.measured),
                              m.within() ? "" : "  OVER THE 2 % BOUND"));
  }
  if (!r.rows.empty()) {
    absl::StrAppend(&out, "\npredicted terms at ", ContextLabel(r.rows.back().context),
                    " (requested -> after allocator rounding):\n");
    for (const CudaTerm& t : r.rows.back().predicted.terms)
      absl::StrAppend(&out, absl::StrFormat("  %-16s %14d -> %14d  %s\n", t.name, t.requested,
                                            t.device, t.allocation));
  }
  absl::StrAppend(&out, r.ok() ? "all rows within 2 %\n"
                               : "FAILED: a row differs from the prediction by more than 2 %\n");
  return out;
}

std::string RenderMeasureJson(const MeasureReport& r) {
  Json j;
  j["model"] = r.model;
  j["device"] = {{"device", r.device.device},
                 {"card", r.device.card},
                 {"driver", r.device.driver},
                 {"cuda_version", r.device.cuda_version},
                 {"total_bytes", r.device.total_bytes},
                 {"sms", r.device.sms},
                 {"method", r.device.method}};
  j["kv"] = r.kv;
  j["prefill_chunk"] = r.prefill_chunk;
  j["all_logits"] = r.all_logits;
  j["created_utc"] = r.created_utc;
  j["tool_version"] = r.tool_version;
  j["tolerance_percent"] = kMeasureTolerancePercent;
  j["ok"] = r.ok();
  j["rows"] = Json::array();
  for (const MeasureRow& m : r.rows) {
    Json row{{"context", m.context},           {"predicted_bytes", m.predicted.total()},
             {"measured_bytes", m.measured},   {"diff_percent", m.diff_percent},
             {"synthetic_kv", m.synthetic_kv}, {"within_tolerance", m.within()}};
    for (const CudaTerm& t : m.predicted.terms)
      row["terms"][t.name] = {{"requested", t.requested}, {"device", t.device}};
    j["rows"].push_back(row);
  }
  return j.dump(2) + "\n";
}

std::string RenderMeasureCsv(const MeasureReport& r) {
  std::string out = "context,predicted_bytes,measured_bytes,diff_percent,synthetic_kv,kv,card\n";
  for (const MeasureRow& m : r.rows)
    absl::StrAppend(&out, m.context, ",", m.predicted.total(), ",", m.measured, ",",
                    absl::StrFormat("%.4f", m.diff_percent), ",", m.synthetic_kv ? 1 : 0, ",", r.kv,
                    ",\"", r.device.card, "\"\n");
  return out;
}

std::string RenderMeasureSvg(const MeasureReport& r) {
  constexpr double kW = 900, kH = 520, kL = 80, kR = 40, kT = 50, kB = 60;
  double top = 0;
  for (const auto& [c, b] : r.curve) top = std::max(top, Gib(b));
  for (const MeasureRow& m : r.rows) top = std::max(top, Gib(m.measured));
  top = std::max(1.0, std::ceil(top * 1.1));
  const double x0 = r.curve.empty() ? 0 : std::log2(r.curve.front().first);
  const double x1 = r.curve.empty() ? 1 : std::log2(r.curve.back().first);
  auto X = [&](double c) {
    const double f = x1 > x0 ? (std::log2(c) - x0) / (x1 - x0) : 0.5;
    return kL + f * (kW - kL - kR);
  };
  auto Y = [&](double gib) { return kH - kB - gib / top * (kH - kT - kB); };
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
      kW, kH);
  absl::StrAppend(
      &out,
      absl::StrFormat(
          "<text x=\"%.0f\" y=\"28\" font-size=\"16\">%s: predicted (line) vs measured (dots), KV "
          "%s, %s</text>\n",
          kL, Escape(r.model), Escape(r.kv), Escape(r.device.card)));
  absl::StrAppend(&out, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                                        "height=\"%.1f\" fill=\"none\" stroke=\"#000\"/>\n",
                                        kL, kT, kW - kL - kR, kH - kT - kB));
  for (int i = 0; i <= 4; ++i) {
    const double g = top * i / 4;
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">%.1f GiB</text>\n",
            kL - 6, Y(g) + 4, g));
  }
  std::string points;
  for (const auto& [c, b] : r.curve) {
    absl::StrAppend(&points, absl::StrFormat("%.1f,%.1f ", X(c), Y(Gib(b))));
    absl::StrAppend(
        &out, absl::StrFormat(
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%s</text>\n",
                  X(c), kH - kB + 18, ContextLabel(c)));
  }
  absl::StrAppend(&out, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"",
                  points, "\"/>\n");
  for (const MeasureRow& m : r.rows)
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%s: predicted %d, measured "
            "%d (%+.2f %%)</title></circle>\n",
            X(m.context), Y(Gib(m.measured)), m.within() ? "#2ca02c" : "#d62728",
            ContextLabel(m.context), m.predicted.total(), m.measured, m.diff_percent));
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace glmq::plan
