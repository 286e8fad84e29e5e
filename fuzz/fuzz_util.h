// Helpers shared by the fuzz targets: parsers that take a path get the input
// through one scratch file per process, rewritten in place for every input
// (same inode, so the input registry of core/input.h stays one entry).
// Parsers of a folder (a checkpoint) get a scratch folder whose files come
// from one input in the record format of PackFolder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace glmq::fuzz {

// Writes `data` to the scratch file and returns its path.
const std::string& ScratchFile(const uint8_t* data, size_t size);

// The names a folder input can hold (a Hugging Face checkpoint's files).
inline constexpr const char* kFolderFiles[] = {"config.json",
                                               "model.safetensors",
                                               "model.safetensors.index.json",
                                               "model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors",
                                               "tokenizer.model",
                                               "tokenizer.json",
                                               "tokenizer_config.json",
                                               "generation_config.json"};
inline constexpr size_t kNumFolderFiles = sizeof(kFolderFiles) / sizeof(kFolderFiles[0]);

// The files of `dir` named in kFolderFiles as one input: records of
// [u8 name index][u32 little-endian size][size bytes]. Empty if none exists.
std::string PackFolder(const std::string& dir);

// Unpacks an input of PackFolder's format into the scratch folder and
// returns its path: a record's name index is taken modulo kNumFolderFiles,
// a later record of a name replaces an earlier one, a record cut short keeps
// the bytes there are, and names without a record are absent from the folder
// (moved aside, so every name keeps one inode for the whole process).
const std::string& ScratchFolder(const uint8_t* data, size_t size);

}  // namespace glmq::fuzz
