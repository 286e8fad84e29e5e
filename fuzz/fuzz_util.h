// Helpers shared by the fuzz targets: parsers that take a path get the input
// through one scratch file per process, rewritten in place for every input
// (same inode, so the input registry of core/input.h stays one entry).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace glmq::fuzz {

// Writes `data` to the scratch file and returns its path.
const std::string& ScratchFile(const uint8_t* data, size_t size);

}  // namespace glmq::fuzz
