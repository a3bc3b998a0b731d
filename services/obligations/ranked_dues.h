// Due times in order, each with a value, that count fast: how many fall before an instant is
// a binary search over chunks and one within a chunk, whatever the size. The overdue index
// keeps one per force, kind and risk level beside its cells, so a force-wide backlog summary
// reads a few dozen of these instead of every team's and officer's cell (tens of thousands at
// 1M).
//
// Items are ordered by due time, then by value (std::less), so that finding one to erase is a
// binary search however many fall due at the same instant (a day's end, for most clocks). They
// are held in sorted chunks of at most kMaxChunk, with each chunk's last item and the count of
// items before it in arrays of their own: an insertion or erasure moves at most a chunk's
// items, and the counts of the chunks after it.
#ifndef VIGIL_SERVICES_OBLIGATIONS_RANKED_DUES_H_
#define VIGIL_SERVICES_OBLIGATIONS_RANKED_DUES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <utility>
#include <vector>

namespace vigil {

template <typename T>
class RankedDues {
 public:
  struct Item {
    int64_t due;
    T value;
  };

  size_t size() const { return before_.empty() ? 0 : before_.back() + chunks_.back().size(); }
  bool empty() const { return chunks_.empty(); }
  // The earliest item (of those due at the same instant, the least value). Not empty.
  const Item& front() const { return chunks_.front().front(); }

  void Insert(int64_t due, T value) {
    const Item item{due, std::move(value)};
    if (chunks_.empty()) {
      chunks_.emplace_back().push_back(item);
      lasts_.push_back(item);
      Recount(0);
      return;
    }
    // The first chunk whose last item comes after this one, or the last chunk.
    size_t c = std::upper_bound(lasts_.begin(), lasts_.end(), item, Less) - lasts_.begin();
    if (c == chunks_.size()) --c;
    std::vector<Item>& chunk = chunks_[c];
    chunk.insert(std::upper_bound(chunk.begin(), chunk.end(), item, Less), item);
    if (chunk.size() > kMaxChunk) {
      std::vector<Item> upper(chunk.begin() + kMaxChunk / 2, chunk.end());
      std::vector<Item> lower(chunk.begin(), chunk.begin() + kMaxChunk / 2);
      chunk = std::move(lower);  // not resized in place: the capacity goes with the items
      // (`chunk` is not used after this: the insertion may move the chunks.)
      chunks_.insert(chunks_.begin() + c + 1, std::move(upper));
      lasts_.insert(lasts_.begin() + c + 1, chunks_[c + 1].back());
    }
    lasts_[c] = chunks_[c].back();
    Recount(c);
  }

  // Removes an item equal to (due, value); false if there is none.
  bool Erase(int64_t due, const T& value) {
    const Item item{due, value};
    const size_t c = std::lower_bound(lasts_.begin(), lasts_.end(), item, Less) - lasts_.begin();
    if (c == chunks_.size()) return false;
    std::vector<Item>& chunk = chunks_[c];
    const auto it = std::lower_bound(chunk.begin(), chunk.end(), item, Less);
    if (Less(item, *it)) return false;  // `it` exists: the chunk's last is not before `item`
    chunk.erase(it);
    if (chunk.empty()) {
      chunks_.erase(chunks_.begin() + c);
      lasts_.erase(lasts_.begin() + c);
      Recount(c);
      return true;
    }
    // A small chunk joins a small neighbour, so that erasures cannot leave a trail of
    // near-empty chunks.
    const bool join_next = c + 1 < chunks_.size() && Small(chunk.size(), chunks_[c + 1].size());
    const bool join_previous = !join_next && c > 0 && Small(chunks_[c - 1].size(), chunk.size());
    const size_t into = join_previous ? c - 1 : c;
    if (join_next || join_previous) {
      std::vector<Item>& next = chunks_[into + 1];
      chunks_[into].insert(chunks_[into].end(), next.begin(), next.end());
      chunks_.erase(chunks_.begin() + into + 1);
      lasts_.erase(lasts_.begin() + into + 1);
    }
    lasts_[into] = chunks_[into].back();
    Recount(into);
    return true;
  }

  // Items due before `x`, and due at or before `x`.
  size_t CountBefore(int64_t x) const {
    const size_t c = std::lower_bound(lasts_.begin(), lasts_.end(), x, DueBefore) - lasts_.begin();
    if (c == chunks_.size()) return size();
    const std::vector<Item>& chunk = chunks_[c];
    return before_[c] +
           (std::lower_bound(chunk.begin(), chunk.end(), x, DueBefore) - chunk.begin());
  }
  size_t CountAtOrBefore(int64_t x) const {
    const size_t c = std::upper_bound(lasts_.begin(), lasts_.end(), x, DueAfter) - lasts_.begin();
    if (c == chunks_.size()) return size();
    const std::vector<Item>& chunk = chunks_[c];
    return before_[c] + (std::upper_bound(chunk.begin(), chunk.end(), x, DueAfter) - chunk.begin());
  }

  // A position in order: an item, or past the last.
  class Iterator {
   public:
    bool done() const { return chunk_ == dues_->chunks_.size(); }
    const Item& operator*() const { return dues_->chunks_[chunk_][index_]; }
    const Item* operator->() const { return &**this; }
    void Next() {
      if (++index_ == dues_->chunks_[chunk_].size()) {
        ++chunk_;
        index_ = 0;
      }
    }

   private:
    friend class RankedDues;
    Iterator(const RankedDues* dues, size_t chunk, size_t index)
        : dues_(dues), chunk_(chunk), index_(index) {}
    const RankedDues* dues_;
    size_t chunk_;
    size_t index_;
  };
  // The first item due at or after `x`.
  Iterator LowerBound(int64_t x) const {
    const size_t c = std::lower_bound(lasts_.begin(), lasts_.end(), x, DueBefore) - lasts_.begin();
    if (c == chunks_.size()) return Iterator(this, c, 0);
    const std::vector<Item>& chunk = chunks_[c];
    return Iterator(this, c,
                    std::lower_bound(chunk.begin(), chunk.end(), x, DueBefore) - chunk.begin());
  }

  // Replaces the contents with `items`, in any order.
  void Assign(std::vector<Item> items) {
    std::sort(items.begin(), items.end(), Less);
    chunks_.clear();
    lasts_.clear();
    for (size_t i = 0; i < items.size(); i += kMaxChunk / 2) {
      const size_t end = std::min(items.size(), i + kMaxChunk / 2);
      chunks_.emplace_back(std::make_move_iterator(items.begin() + i),
                           std::make_move_iterator(items.begin() + end));
      lasts_.push_back(chunks_.back().back());
    }
    Recount(0);
  }

 private:
  static constexpr size_t kMaxChunk = 1024;

  static bool Less(const Item& a, const Item& b) {
    return a.due != b.due ? a.due < b.due : std::less<T>()(a.value, b.value);
  }
  static bool DueBefore(const Item& item, int64_t due) { return item.due < due; }
  static bool DueAfter(int64_t due, const Item& item) { return due < item.due; }
  static bool Small(size_t a, size_t b) { return a + b <= kMaxChunk / 2; }

  // Rewrites before_ from chunk `from` on (the chunks' sizes only: no item is read).
  void Recount(size_t from) {
    before_.resize(chunks_.size());
    for (size_t c = from; c < chunks_.size(); ++c) {
      before_[c] = c == 0 ? 0 : before_[c - 1] + chunks_[c - 1].size();
    }
  }

  std::vector<std::vector<Item>> chunks_;  // each non-empty and in order; in order together
  std::vector<Item> lasts_;                // chunks_[c].back()
  std::vector<size_t> before_;             // items in chunks_[0, c)
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_RANKED_DUES_H_
