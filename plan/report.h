// Renderings of a Plan: a text table (GiB), CSV, JSON, and the --gpu answer.
// All sizes in binary units; bytes are exact integers in CSV/JSON.
#pragma once

#include <cstdint>
#include <string>

#include "plan/memory.h"

namespace glmq::plan {

// "18.80 GiB"-free fixed form: bytes / 2^30 with 2 decimals ("17.51").
std::string GiB(uint64_t bytes);
// "1K", "128K", "1M", or the plain number when not a multiple of 1024.
std::string ContextLabel(int64_t tokens);

std::string RenderText(const Plan& plan, const std::string& title);
// One row per context: context, kv_<type>, buffers, cuda_context,
// weights_<scheme>, total_<scheme>_kv_<type>; all in bytes.
std::string RenderCsv(const Plan& plan);
std::string RenderJson(const Plan& plan, const std::string& title);
// For each scheme x KV type, the largest context that fits in gpu_bytes.
std::string RenderGpuFit(const Plan& plan, uint64_t gpu_bytes, const std::string& gpu_label);

}  // namespace glmq::plan
