// SVG chart of a Plan: total VRAM (GiB) against context length on a log2 x
// axis, one colour per weight scheme (solid: bf16 KV, dashed: int8 KV), with
// horizontal lines for 24, 48, 80 and 141 GiB cards. Self-contained SVG 1.1.
#pragma once

#include <string>

#include "plan/memory.h"

namespace glmq::plan {

std::string RenderSvg(const Plan& plan, const std::string& title);

}  // namespace glmq::plan
