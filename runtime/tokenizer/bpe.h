// Byte-level BPE over one pre-tokenized piece. Two merge rules:
//  - kRanks (tiktoken tokenizer.model): repeatedly merge the adjacent pair
//    whose concatenated bytes is the lowest-ranked token; rank == id.
//  - kMerges (HF tokenizer.json): repeatedly apply the adjacent pair with the
//    lowest index in the merges list; the result is vocab[left + right].
// Ties go to the leftmost pair in both (as tiktoken and HF do). Short pieces
// use a linear scan, long ones a heap over a linked list (O(n log n)).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glmq::tok {

class BpeModel {
 public:
  enum class Mode { kRanks, kMerges };

  // `tokens[i]` = (bytes, id); ids unique and >= 0, bytes unique; all 256
  // single bytes must be tokens. `where` names the file in errors.
  static absl::StatusOr<BpeModel> Create(Mode mode,
                                         std::vector<std::pair<std::string, int32_t>> tokens,
                                         absl::string_view where);
  // kMerges only: adds merge number `rank` (left, right are token bytes).
  absl::Status AddMerge(absl::string_view left, absl::string_view right, int32_t rank,
                        absl::string_view where);
  // When true (tiktoken always; HF `ignore_merges`), a piece that is itself
  // a token is emitted as that token without merging.
  void set_whole_piece_lookup(bool v) { whole_piece_lookup_ = v; }

  // Appends the ids of `piece`. Thread-safe.
  void Encode(absl::string_view piece, std::vector<int32_t>* ids) const;
  // For tests: forces the linear (false) or heap (true) merge loop.
  void EncodeWith(absl::string_view piece, bool heap, std::vector<int32_t>* ids) const;

  // Token bytes of `id`; empty for ids that are not regular tokens.
  absl::string_view TokenBytes(int32_t id) const {
    return id >= 0 && id < static_cast<int32_t>(id_bytes_.size()) ? id_bytes_[id]
                                                                   : absl::string_view();
  }
  // -1 if `bytes` is not a token.
  int32_t TokenId(absl::string_view bytes) const {
    auto it = token_ids_.find(bytes);
    return it == token_ids_.end() ? -1 : it->second;
  }
  // 1 + the largest regular id.
  int32_t id_limit() const { return static_cast<int32_t>(id_bytes_.size()); }
  size_t n_tokens() const { return token_ids_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  struct Symbol;
  // Rank and result of merging adjacent symbols a, b; rank < 0: no merge.
  Merge PairMerge(absl::string_view piece, const Symbol& a, const Symbol& b) const;
  void MergeLinear(absl::string_view piece, std::vector<Symbol>& syms) const;
  void MergeHeap(absl::string_view piece, std::vector<Symbol>& syms) const;

  Mode mode_ = Mode::kRanks;
  bool whole_piece_lookup_ = true;
  std::unique_ptr<std::string> arena_;            // owns all token bytes; views point here
  std::vector<absl::string_view> id_bytes_;       // id -> bytes
  absl::flat_hash_map<absl::string_view, int32_t> token_ids_;  // bytes -> id
  absl::flat_hash_map<uint64_t, Merge> merges_;   // (left id << 32 | right id) -> merge
  int32_t byte_ids_[256] = {};
};

}  // namespace glmq::tok
