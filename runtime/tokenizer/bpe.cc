#include "runtime/tokenizer/bpe.h"

#include <algorithm>
#include <limits>
#include <queue>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq::tok {

struct BpeModel::Symbol {
  uint32_t start;  // byte offset in the piece
  uint32_t len;    // bytes; 0 once merged into the left neighbour
  int32_t id;
  int32_t prev, next;  // neighbours in the list, -1 at the ends
};

namespace {
// Pieces up to this many bytes use the linear scan: for short pieces it beats
// the heap (no allocation, cache-friendly); long ones (a paragraph of CJK text
// is a single \p{L}+ piece) would make it quadratic.
constexpr size_t kLinearMaxBytes = 48;
constexpr int32_t kNoMerge = std::numeric_limits<int32_t>::max();
}  // namespace

absl::StatusOr<BpeModel> BpeModel::Create(Mode mode,
                                          std::vector<std::pair<std::string, int32_t>> tokens,
                                          absl::string_view where) {
  BpeModel m;
  m.mode_ = mode;
  size_t total = 0;
  int32_t max_id = -1;
  for (const auto& [bytes, id] : tokens) {
    if (id < 0) return absl::InvalidArgumentError(absl::StrCat(where, ": negative token id ", id));
    if (bytes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": empty token (id ", id, ")"));
    }
    total += bytes.size();
    max_id = std::max(max_id, id);
  }
  m.arena_ = std::make_unique<std::string>();
  m.arena_->reserve(total);
  for (const auto& t : tokens) m.arena_->append(t.first);
  m.id_bytes_.assign(static_cast<size_t>(max_id + 1), absl::string_view());
  m.token_ids_.reserve(tokens.size());
  size_t offset = 0;
  for (const auto& [bytes, id] : tokens) {
    const absl::string_view view(m.arena_->data() + offset, bytes.size());
    offset += bytes.size();
    if (!m.id_bytes_[id].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate token id ", id));
    }
    if (!m.token_ids_.emplace(view, id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate token bytes for ids ", m.token_ids_[view], " and ", id));
    }
    m.id_bytes_[id] = view;
  }
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const int32_t id = m.TokenId(absl::string_view(&c, 1));
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": byte 0x", absl::Hex(b, absl::kZeroPad2), " has no token"));
    }
    m.byte_ids_[b] = id;
  }
  return m;
}

absl::Status BpeModel::AddMerge(absl::string_view left, absl::string_view right, int32_t rank,
                                absl::string_view where) {
  const int32_t a = TokenId(left), b = TokenId(right);
  const int32_t result = TokenId(absl::StrCat(left, right));
  if (a < 0 || b < 0 || result < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": merge ", rank, " uses a token that is not in the vocab (",
        a < 0 ? "left" : b < 0 ? "right" : "merged", ")"));
  }
  const uint64_t key = (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
  merges_.insert_or_assign(key, Merge{rank, result});  // a repeated pair: last wins, as in HF
  return absl::OkStatus();
}

BpeModel::Merge BpeModel::PairMerge(absl::string_view piece, const Symbol& a,
                                    const Symbol& b) const {
  if (mode_ == Mode::kRanks) {
    const int32_t id = TokenId(piece.substr(a.start, a.len + b.len));
    return id < 0 ? Merge{kNoMerge, -1} : Merge{id, id};
  }
  const uint64_t key = (static_cast<uint64_t>(a.id) << 32) | static_cast<uint32_t>(b.id);
  auto it = merges_.find(key);
  return it == merges_.end() ? Merge{kNoMerge, -1} : it->second;
}

// tiktoken's loop: keep the merge of each adjacent pair, take the lowest
// (leftmost on ties), merge, refresh the two pairs around it.
void BpeModel::MergeLinear(absl::string_view piece, std::vector<Symbol>& syms) const {
  std::vector<Merge> pair(syms.size(), Merge{kNoMerge, -1});  // pair[i] = merge(syms[i], syms[i+1])
  for (size_t i = 0; i + 1 < syms.size(); ++i) pair[i] = PairMerge(piece, syms[i], syms[i + 1]);
  while (syms.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < syms.size(); ++i) {
      if (pair[i].rank < pair[best].rank) best = i;
    }
    if (pair[best].rank == kNoMerge) break;
    syms[best].len += syms[best + 1].len;
    syms[best].id = pair[best].id;
    syms.erase(syms.begin() + best + 1);
    pair.erase(pair.begin() + best + 1);
    pair[best] = best + 1 < syms.size() ? PairMerge(piece, syms[best], syms[best + 1])
                                        : Merge{kNoMerge, -1};
    if (best > 0) pair[best - 1] = PairMerge(piece, syms[best - 1], syms[best]);
  }
}

// The same merge order with a min-heap of candidate pairs over a linked list.
// An entry is stale when either symbol's length changed since it was pushed.
void BpeModel::MergeHeap(absl::string_view piece, std::vector<Symbol>& syms) const {
  struct Cand {
    int32_t rank;
    int32_t left;  // symbol index (its start order = position order)
    uint32_t left_len, right_len;
    int32_t id;
    bool operator>(const Cand& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || syms[i].next < 0) return;
    const Symbol& a = syms[i];
    const Symbol& b = syms[a.next];
    const Merge m = PairMerge(piece, a, b);
    if (m.rank != kNoMerge) heap.push({m.rank, i, a.len, b.len, m.id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) push(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Symbol& a = syms[c.left];
    if (a.len != c.left_len || a.next < 0 || syms[a.next].len != c.right_len) continue;
    Symbol& b = syms[a.next];
    a.len += b.len;
    a.id = c.id;
    b.len = 0;
    a.next = b.next;
    if (b.next >= 0) syms[b.next].prev = c.left;
    push(a.prev);
    push(c.left);
  }
  size_t out = 0;
  for (int32_t i = 0; i >= 0; i = syms[i].next) syms[out++] = syms[i];
  syms.resize(out);
}

void BpeModel::EncodeWith(absl::string_view piece, bool heap, std::vector<int32_t>* ids) const {
  thread_local std::vector<Symbol> syms;
  syms.clear();
  const auto* s = reinterpret_cast<const uint8_t*>(piece.data());
  for (uint32_t i = 0; i < piece.size(); ++i) {
    syms.push_back({i, 1, byte_ids_[s[i]], static_cast<int32_t>(i) - 1,
                    i + 1 < piece.size() ? static_cast<int32_t>(i) + 1 : -1});
  }
  if (heap) {
    MergeHeap(piece, syms);
  } else {
    MergeLinear(piece, syms);
  }
  for (const Symbol& sym : syms) ids->push_back(sym.id);
}

void BpeModel::Encode(absl::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.empty()) return;
  if (piece.size() == 1) {
    ids->push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (whole_piece_lookup_) {
    const int32_t id = TokenId(piece);
    if (id >= 0) {
      ids->push_back(id);
      return;
    }
  }
  EncodeWith(piece, piece.size() > kLinearMaxBytes, ids);
}

}  // namespace glmq::tok
