#include "plan/svg.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "plan/report.h"

namespace glmq::plan {
namespace {

constexpr double kWidth = 960, kHeight = 600;
constexpr double kLeft = 80, kRight = 230, kTop = 50, kBottom = 60;  // margins
constexpr double kCardsGiB[] = {24, 48, 80, 141};
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

struct Axes {
  double x0, x1;  // log2 of the first and last context
  double y1;      // GiB at the top
  double X(double context) const {
    const double f = x1 > x0 ? (std::log2(context) - x0) / (x1 - x0) : 0.5;
    return kLeft + f * (kWidth - kLeft - kRight);
  }
  double Y(double gib) const { return kHeight - kBottom - gib / y1 * (kHeight - kTop - kBottom); }
};

double NiceStep(double range) {
  const double raw = range / 8;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

double Gib(uint64_t bytes) { return static_cast<double>(bytes) / (1ull << 30); }

void DrawAxes(const Plan& plan, const Axes& a, std::string* out) {
  const double bottom = kHeight - kBottom, right = kWidth - kRight;
  absl::StrAppend(out, absl::StrFormat(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#000\"/>\n",
      kLeft, kTop, right - kLeft, bottom - kTop));
  const double step = NiceStep(a.y1);
  for (double g = 0; g <= a.y1 + 1e-9; g += step)
    absl::StrAppend(out, absl::StrFormat(
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">%g</text>\n",
        kLeft, a.Y(g), right, a.Y(g), kLeft - 6, a.Y(g) + 4, g));
  for (int64_t c = int64_t{1} << static_cast<int>(std::ceil(a.x0)); c <= plan.contexts.back();
       c *= 2)
    absl::StrAppend(out, absl::StrFormat(
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n",
        a.X(c), kTop, a.X(c), bottom, a.X(c), bottom + 18, ContextLabel(c)));
  absl::StrAppend(out, absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\">context length "
      "(tokens, log2 scale)</text>\n", (kLeft + right) / 2, kHeight - 15));
  absl::StrAppend(out, absl::StrFormat(
      "<text x=\"20\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\" "
      "transform=\"rotate(-90 20 %.1f)\">VRAM (GiB)</text>\n", (kTop + bottom) / 2,
      (kTop + bottom) / 2));
  for (double card : kCardsGiB) {
    if (card > a.y1) continue;
    absl::StrAppend(out, absl::StrFormat(
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"2,3\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\" "
        "fill=\"#555\">%g GiB card</text>\n",
        kLeft, a.Y(card), right, a.Y(card), right - 4, a.Y(card) - 4, card));
  }
}

}  // namespace

std::string RenderSvg(const Plan& plan, const std::string& title) {
  const int64_t first = plan.contexts.front(), last = plan.contexts.back();
  double top = kCardsGiB[3];
  for (size_t w = 0; w < plan.weights.size(); ++w)
    top = std::max(top, Gib(TotalBytes(plan, w, 0, last)));
  const Axes a{std::log2(static_cast<double>(first)), std::log2(static_cast<double>(last)),
               top * 1.05};
  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
      kWidth, kHeight, kWidth, kHeight);
  absl::StrAppend(&out, absl::StrFormat(
      "<text x=\"%.1f\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">%s</text>\n",
      (kLeft + kWidth - kRight) / 2,
      Escape(absl::StrCat("VRAM vs context: ", title, " (batch ", plan.options.batch, ")"))));
  DrawAxes(plan, a, &out);
  // Totals are sampled 8 times per octave so the curves are smooth on log x.
  std::vector<int64_t> xs;
  for (double e = a.x0; e < a.x1; e += 0.125) xs.push_back(std::llround(std::exp2(e)));
  xs.push_back(last);
  double legend_y = kTop + 10;
  for (size_t w = 0; w < plan.weights.size(); ++w) {
    const char* color = kColors[w % 5];
    for (size_t k = 0; k < AllKvTypes().size(); ++k) {
      const char* dash = k == 0 ? "" : " stroke-dasharray=\"7,4\"";
      std::string points;
      for (int64_t c : xs)
        absl::StrAppend(&points, absl::StrFormat("%.1f,%.1f ", a.X(c),
                                                 a.Y(Gib(TotalBytes(plan, w, k, c)))));
      absl::StrAppend(&out, absl::StrFormat(
          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>\n", color,
          dash, points));
      const double lx = kWidth - kRight + 70;
      absl::StrAppend(&out, absl::StrFormat(
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
          "stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n",
          lx, legend_y, lx + 28, legend_y, color, dash, lx + 34, legend_y + 4,
          Escape(absl::StrCat(plan.weights[w].name, ", KV ", AllKvTypes()[k].name))));
      legend_y += 18;
    }
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace glmq::plan
