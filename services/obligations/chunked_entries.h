// The entries of one cell of the overdue index, in (due time, id) order, held in sorted chunks
// of at most kMaxChunk: an insertion or erasure moves at most a chunk's entries, where one
// sorted vector moved half the cell's. Unallocated referrals all share a cell (the default
// team, no officer), so CreateReferral with received times in the past inserted into the
// middle of tens of thousands of entries: 15% of vigild's CPU per call at 10k.
//
// Each chunk keeps its due times apart from its entries, contiguous, as the one vector did:
// the age-band counts are binary searches on 8-byte due times alone (eight to a cache line),
// and the entries are read only for the page being listed. A cell of up to kMaxChunk entries
// (most cells, even at 1M) is one or two chunks, laid out as before.
#ifndef VIGIL_SERVICES_OBLIGATIONS_CHUNKED_ENTRIES_H_
#define VIGIL_SERVICES_OBLIGATIONS_CHUNKED_ENTRIES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace vigil {

// `Entry` has `int64_t due_micros` and `std::string id`; entries are ordered by both, and an
// id is held at most once.
template <typename Entry>
class ChunkedEntries {
 public:
  // Entries per chunk at most: an insertion moves up to this many, and a chunk's due times
  // (4 KiB) stay a page.
  static constexpr size_t kMaxChunk = 512;

  ChunkedEntries() = default;
  // Neither copied nor moved: first_entries_ and first_dues_ point into the chunks' memory (a
  // cell stays where it was made: OverdueIndex::Force::cells).
  ChunkedEntries(const ChunkedEntries&) = delete;
  ChunkedEntries& operator=(const ChunkedEntries&) = delete;

  // Entries in order (those appended and not yet put in order are not counted).
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0 && loading_.empty(); }
  // Not empty.
  const Entry& front() const { return *first_entries_; }
  int64_t front_due() const { return first_dues_[0]; }

  // Entries due before `x`, and due at or before `x`.
  size_t CountBefore(int64_t x) const {
    if (chunks_.size() <= 1) return std::lower_bound(first_dues_, first_end_, x) - first_dues_;
    const size_t c = std::lower_bound(last_dues_.begin(), last_dues_.end(), x) - last_dues_.begin();
    if (c == chunks_.size()) return size();
    const std::vector<int64_t>& dues = chunks_[c].dues;
    return before_[c] + (std::lower_bound(dues.begin(), dues.end(), x) - dues.begin());
  }
  size_t CountAtOrBefore(int64_t x) const {
    if (chunks_.size() <= 1) return std::upper_bound(first_dues_, first_end_, x) - first_dues_;
    const size_t c = std::upper_bound(last_dues_.begin(), last_dues_.end(), x) - last_dues_.begin();
    if (c == chunks_.size()) return size();
    const std::vector<int64_t>& dues = chunks_[c].dues;
    return before_[c] + (std::upper_bound(dues.begin(), dues.end(), x) - dues.begin());
  }
  // Entries at or before `entry` in order (the rank of the first one after it).
  size_t CountAtOrBeforeEntry(const Entry& entry) const {
    const size_t c = ChunkAfter(entry);
    if (c == chunks_.size()) return size();
    const std::vector<Entry>& entries = chunks_[c].entries;
    return before_[c] +
           (std::upper_bound(entries.begin(), entries.end(), entry, Before) - entries.begin());
  }

  // A position in order: an entry, or past the last. Points into its chunk, so that walking
  // a page reads entries and due times as from one vector.
  class Iterator {
   public:
    bool done() const { return entry_ == nullptr; }
    const Entry& operator*() const { return *entry_; }
    const Entry* operator->() const { return entry_; }
    int64_t due() const { return *due_; }
    void Next() {
      ++entry_;
      if (++due_ != end_) return;
      if (++chunk_ < owner_->chunks_.size()) {
        *this = Iterator(owner_, chunk_, 0);
      } else {
        entry_ = nullptr;
      }
    }

   private:
    friend class ChunkedEntries;
    Iterator() = default;  // past the last
    Iterator(const ChunkedEntries* owner, size_t chunk, size_t index)
        : owner_(owner), chunk_(chunk) {
      const Chunk& at = owner->chunks_[chunk];
      entry_ = at.entries.data() + index;
      due_ = at.dues.data() + index;
      end_ = at.dues.data() + at.size();
    }
    const ChunkedEntries* owner_ = nullptr;
    size_t chunk_ = 0;
    const Entry* entry_ = nullptr;
    const int64_t* due_ = nullptr;
    const int64_t* end_ = nullptr;
  };
  // The entry of rank `rank` (0: the first), or past the last.
  Iterator At(size_t rank) const {
    if (rank >= size_) return Iterator();
    if (chunks_.size() == 1) {  // without reading chunks_: see first_dues_
      Iterator at;
      at.owner_ = this;
      at.entry_ = first_entries_ + rank;
      at.due_ = first_dues_ + rank;
      at.end_ = first_end_;
      return at;
    }
    const size_t c = std::upper_bound(before_.begin(), before_.end(), rank) - before_.begin() - 1;
    return Iterator(this, c, rank - before_[c]);
  }

  // Adds `entry` in order (its id must not be held).
  void Insert(Entry entry) {
    if (chunks_.empty()) {
      Chunk& first = chunks_.emplace_back();
      first.dues.push_back(entry.due_micros);
      first.entries.push_back(std::move(entry));
      last_dues_.push_back(first.dues.back());
      Recount(0);
      return;
    }
    size_t c = ChunkAfter(entry);
    if (c == chunks_.size()) --c;  // after every entry: the last chunk's end
    Chunk& chunk = chunks_[c];
    const size_t at = std::upper_bound(chunk.entries.begin(), chunk.entries.end(), entry, Before) -
                      chunk.entries.begin();
    chunk.dues.insert(chunk.dues.begin() + at, entry.due_micros);
    chunk.entries.insert(chunk.entries.begin() + at, std::move(entry));
    if (chunk.size() > kMaxChunk) {
      Chunk upper;
      upper.dues.assign(chunk.dues.begin() + kMaxChunk / 2, chunk.dues.end());
      upper.entries.assign(std::make_move_iterator(chunk.entries.begin() + kMaxChunk / 2),
                           std::make_move_iterator(chunk.entries.end()));
      chunk.dues.erase(chunk.dues.begin() + kMaxChunk / 2, chunk.dues.end());
      chunk.entries.erase(chunk.entries.begin() + kMaxChunk / 2, chunk.entries.end());
      // (`chunk` is not used after this: the insertion may move the chunks.)
      chunks_.insert(chunks_.begin() + c + 1, std::move(upper));
      last_dues_.insert(last_dues_.begin() + c + 1, chunks_[c + 1].dues.back());
    }
    last_dues_[c] = chunks_[c].dues.back();
    Recount(c);
  }

  // Removes the entry `id` due at `due`, and returns true; false if it is not there.
  bool Erase(int64_t due, absl::string_view id) {
    const size_t c = ChunkAtOrAfter(due, id);
    if (c == chunks_.size()) return false;
    const std::vector<Entry>& entries = chunks_[c].entries;
    const auto it = std::lower_bound(entries.begin(), entries.end(), std::pair(due, id), KeyBefore);
    if (it == entries.end() || it->due_micros != due || it->id != id) return false;
    EraseAt(c, it - entries.begin());
    return true;
  }
  // Removes the entry `id` wherever it is (a linear search), and returns its due time.
  std::optional<int64_t> EraseAnywhere(absl::string_view id) {
    for (size_t c = 0; c < chunks_.size(); ++c) {
      const std::vector<Entry>& entries = chunks_[c].entries;
      for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].id != id) continue;
        const int64_t due = entries[i].due_micros;
        EraseAt(c, i);
        return due;
      }
    }
    return std::nullopt;
  }

  // Loading in bulk: Append in any order, then FinishAppending puts everything in order.
  void Append(Entry entry) { loading_.push_back(std::move(entry)); }
  void FinishAppending() {
    if (!chunks_.empty()) {  // appended to entries in order: one by one
      std::vector<Entry> appended = std::move(loading_);
      loading_ = std::vector<Entry>();
      for (Entry& entry : appended) Insert(std::move(entry));
      return;
    }
    // The deadline index is read in due order: a cell loaded from it is in order already.
    if (!std::is_sorted(loading_.begin(), loading_.end(), Before)) {
      std::sort(loading_.begin(), loading_.end(), Before);
    }
    // Full chunks: a cell of up to kMaxChunk (most) is one, which the queries over many cells
    // read as fast as one vector. The first insertion into a full chunk splits it.
    for (size_t i = 0; i < loading_.size(); i += kMaxChunk) {
      const size_t end = std::min(loading_.size(), i + kMaxChunk);
      Chunk& chunk = chunks_.emplace_back();
      chunk.entries.assign(std::make_move_iterator(loading_.begin() + i),
                           std::make_move_iterator(loading_.begin() + end));
      chunk.dues.reserve(chunk.entries.size());
      for (const Entry& entry : chunk.entries) chunk.dues.push_back(entry.due_micros);
      last_dues_.push_back(chunk.dues.back());
    }
    loading_ = std::vector<Entry>();
    Recount(0);
  }

  // Calls fn(entry) for each entry, in order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Chunk& chunk : chunks_) {
      for (const Entry& entry : chunk.entries) fn(entry);
    }
  }

  // Asks for the memory the binary searches of the first chunk start, end and first split at
  // (a query over many cells asks a few cells ahead of the one it searches).
  void Prefetch() const {
    if (first_dues_ == first_end_) return;
    __builtin_prefetch(first_dues_);
    __builtin_prefetch(first_dues_ + (first_end_ - first_dues_) / 2);
    __builtin_prefetch(first_end_ - 1);
  }

 private:
  struct Chunk {
    std::vector<int64_t> dues;   // entries[i].due_micros
    std::vector<Entry> entries;  // not empty once in chunks_
    size_t size() const { return dues.size(); }
  };

  static bool Before(const Entry& a, const Entry& b) {
    return a.due_micros != b.due_micros ? a.due_micros < b.due_micros : a.id < b.id;
  }
  static bool KeyBefore(const Entry& e, const std::pair<int64_t, absl::string_view>& key) {
    return e.due_micros != key.first ? e.due_micros < key.first
                                     : absl::string_view(e.id) < key.second;
  }

  // The first chunk whose last entry comes after `entry`, or chunks_.size().
  size_t ChunkAfter(const Entry& entry) const {
    size_t c = std::lower_bound(last_dues_.begin(), last_dues_.end(), entry.due_micros) -
               last_dues_.begin();
    // Chunks ending at the entry's due time: the first whose last id comes after it.
    while (c < chunks_.size() && last_dues_[c] == entry.due_micros &&
           !(entry.id < chunks_[c].entries.back().id)) {
      ++c;
    }
    return c;
  }
  // The first chunk whose last entry is not before (due, id), or chunks_.size().
  size_t ChunkAtOrAfter(int64_t due, absl::string_view id) const {
    size_t c = std::lower_bound(last_dues_.begin(), last_dues_.end(), due) - last_dues_.begin();
    while (c < chunks_.size() && last_dues_[c] == due &&
           absl::string_view(chunks_[c].entries.back().id) < id) {
      ++c;
    }
    return c;
  }

  void EraseAt(size_t c, size_t i) {
    Chunk& chunk = chunks_[c];
    chunk.dues.erase(chunk.dues.begin() + i);
    chunk.entries.erase(chunk.entries.begin() + i);
    if (chunk.entries.empty()) {
      chunks_.erase(chunks_.begin() + c);
      last_dues_.erase(last_dues_.begin() + c);
      Recount(c);
      return;
    }
    // A small chunk joins a small neighbour, so that erasures cannot leave a trail of
    // near-empty chunks.
    const bool join_next = c + 1 < chunks_.size() && Small(chunk.size(), chunks_[c + 1].size());
    const bool join_previous = !join_next && c > 0 && Small(chunks_[c - 1].size(), chunk.size());
    const size_t into = join_previous ? c - 1 : c;
    if (join_next || join_previous) {
      Chunk& next = chunks_[into + 1];
      Chunk& joined = chunks_[into];
      joined.dues.insert(joined.dues.end(), next.dues.begin(), next.dues.end());
      joined.entries.insert(joined.entries.end(), std::make_move_iterator(next.entries.begin()),
                            std::make_move_iterator(next.entries.end()));
      chunks_.erase(chunks_.begin() + into + 1);
      last_dues_.erase(last_dues_.begin() + into + 1);
    }
    last_dues_[into] = chunks_[into].dues.back();
    Recount(into);
  }

  static bool Small(size_t a, size_t b) { return a + b <= kMaxChunk / 2; }

  // After every change: rewrites before_ from chunk `from` on (the chunks' sizes only: no
  // entry is read), the size, and where the first chunk's due times are.
  void Recount(size_t from) {
    before_.resize(chunks_.size());
    for (size_t c = from; c < chunks_.size(); ++c) {
      before_[c] = c == 0 ? 0 : before_[c - 1] + chunks_[c - 1].size();
    }
    size_ = chunks_.empty() ? 0 : before_.back() + chunks_.back().size();
    first_entries_ = chunks_.empty() ? nullptr : chunks_.front().entries.data();
    first_dues_ = chunks_.empty() ? nullptr : chunks_.front().dues.data();
    first_end_ = chunks_.empty() ? nullptr : first_dues_ + chunks_.front().size();
  }

  // The members a query over many cells reads come first, near the cell's other fields:
  // size_, and chunks_.front()'s entries and due times, held here as well, so that such a
  // query reaches a cell's first (usually only) chunk without reading chunks_ first, a cache
  // miss at 1M.
  size_t size_ = 0;
  const Entry* first_entries_ = nullptr;
  const int64_t* first_dues_ = nullptr;
  const int64_t* first_end_ = nullptr;
  std::vector<Chunk> chunks_;       // each non-empty and in order; in order together
  std::vector<int64_t> last_dues_;  // chunks_[c].dues.back()
  std::vector<size_t> before_;      // entries in chunks_[0, c)
  std::vector<Entry> loading_;      // appended, not yet in order
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_CHUNKED_ENTRIES_H_
