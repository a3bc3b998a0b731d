// Due times in order, each with a value, that count fast: how many fall before an instant is
// a binary search over chunks and one within a chunk, whatever the size. The overdue index
// keeps one per force, kind and risk level beside its cells, so a force-wide backlog summary
// reads 30 of these instead of every team's and officer's cell (tens of thousands at 1M).
//
// The items are held in sorted chunks of at most kMaxChunk, with each chunk's last due time
// and the count of items before it kept in arrays of their own: an insertion or erasure moves
// at most a chunk's items and rewrites those arrays (a few hundred words at 1M).
#ifndef VIGIL_SERVICES_OBLIGATIONS_RANKED_DUES_H_
#define VIGIL_SERVICES_OBLIGATIONS_RANKED_DUES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
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
  // The earliest item. Not empty.
  const Item& front() const { return chunks_.front().front(); }

  // Adds an item after any others due at the same instant.
  void Insert(int64_t due, T value) {
    if (chunks_.empty()) {
      chunks_.emplace_back().push_back(Item{due, std::move(value)});
      Reindex(0);
      return;
    }
    // The first chunk ending after `due`, or the last one.
    size_t c = std::upper_bound(lasts_.begin(), lasts_.end(), due) - lasts_.begin();
    if (c == chunks_.size()) --c;
    std::vector<Item>& chunk = chunks_[c];
    chunk.insert(std::upper_bound(chunk.begin(), chunk.end(), due, DueBefore), Item{due, value});
    if (chunk.size() > kMaxChunk) {
      std::vector<Item> upper(chunk.begin() + kMaxChunk / 2, chunk.end());
      chunk.resize(kMaxChunk / 2);
      chunks_.insert(chunks_.begin() + c + 1, std::move(upper));
    }
    Reindex(c);
  }

  // Removes one item due at `due` whose value equals `value`; false if there is none.
  bool Erase(int64_t due, const T& value) {
    for (size_t c = std::lower_bound(lasts_.begin(), lasts_.end(), due) - lasts_.begin();
         c < chunks_.size(); ++c) {
      std::vector<Item>& chunk = chunks_[c];
      auto it = std::lower_bound(chunk.begin(), chunk.end(), due, ItemBefore);
      for (; it != chunk.end() && it->due == due; ++it) {
        if (!(it->value == value)) continue;
        chunk.erase(it);
        if (chunk.empty()) {
          chunks_.erase(chunks_.begin() + c);
        } else if (c + 1 < chunks_.size() &&
                   chunk.size() + chunks_[c + 1].size() <= kMaxChunk / 2) {
          // Two small neighbours become one, so that erasures cannot leave a trail of
          // near-empty chunks.
          chunk.insert(chunk.end(), chunks_[c + 1].begin(), chunks_[c + 1].end());
          chunks_.erase(chunks_.begin() + c + 1);
        }
        Reindex(c);
        return true;
      }
      if (it != chunk.end()) return false;  // past `due`
    }
    return false;
  }

  // Items due before `x`, and due at or before `x`.
  size_t CountBefore(int64_t x) const {
    const size_t c = std::lower_bound(lasts_.begin(), lasts_.end(), x) - lasts_.begin();
    if (c == chunks_.size()) return size();
    const std::vector<Item>& chunk = chunks_[c];
    return before_[c] +
           (std::lower_bound(chunk.begin(), chunk.end(), x, ItemBefore) - chunk.begin());
  }
  size_t CountAtOrBefore(int64_t x) const {
    const size_t c = std::upper_bound(lasts_.begin(), lasts_.end(), x) - lasts_.begin();
    if (c == chunks_.size()) return size();
    const std::vector<Item>& chunk = chunks_[c];
    return before_[c] +
           (std::upper_bound(chunk.begin(), chunk.end(), x, DueBefore) - chunk.begin());
  }

  // A position in due order: an item, or past the last.
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
    const size_t c = std::lower_bound(lasts_.begin(), lasts_.end(), x) - lasts_.begin();
    if (c == chunks_.size()) return Iterator(this, c, 0);
    const std::vector<Item>& chunk = chunks_[c];
    return Iterator(this, c,
                    std::lower_bound(chunk.begin(), chunk.end(), x, ItemBefore) - chunk.begin());
  }

  // Calls fn(item) for each item in due order while it returns true.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const std::vector<Item>& chunk : chunks_) {
      for (const Item& item : chunk) {
        if (!fn(item)) return;
      }
    }
  }

  // Replaces the contents with `items`, which must be in due order.
  void Assign(std::vector<Item> items) {
    chunks_.clear();
    for (size_t i = 0; i < items.size(); i += kMaxChunk / 2) {
      const size_t end = std::min(items.size(), i + kMaxChunk / 2);
      chunks_.emplace_back(std::make_move_iterator(items.begin() + i),
                           std::make_move_iterator(items.begin() + end));
    }
    Reindex(0);
  }

 private:
  static constexpr size_t kMaxChunk = 1024;

  static bool ItemBefore(const Item& item, int64_t due) { return item.due < due; }
  static bool DueBefore(int64_t due, const Item& item) { return due < item.due; }

  // Rewrites lasts_ and before_ from chunk `from` on.
  void Reindex(size_t from) {
    lasts_.resize(chunks_.size());
    before_.resize(chunks_.size());
    for (size_t c = from; c < chunks_.size(); ++c) {
      lasts_[c] = chunks_[c].back().due;
      before_[c] = c == 0 ? 0 : before_[c - 1] + chunks_[c - 1].size();
    }
  }

  std::vector<std::vector<Item>> chunks_;  // each non-empty and in order; in order together
  std::vector<int64_t> lasts_;             // chunks_[c].back().due
  std::vector<size_t> before_;             // items in chunks_[0, c)
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_RANKED_DUES_H_
