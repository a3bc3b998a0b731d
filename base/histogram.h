// A fixed-bucket histogram for hot paths: Observe is a few relaxed atomic adds, no lock. Read
// gives Prometheus-style cumulative bucket counts. Thread-safe; not copyable.
//
//   Histogram latency({0.001, 0.01, 0.1, 1});
//   latency.Observe(0.004);
#ifndef VIGIL_BASE_HISTOGRAM_H_
#define VIGIL_BASE_HISTOGRAM_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace vigil {

class Histogram {
 public:
  // `bounds`: the buckets' inclusive upper bounds, ascending. An implicit +Inf bucket follows.
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)),
        counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value) {
    const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  struct Reading {
    std::vector<double> bounds;
    // cumulative[i]: observations <= bounds[i]; cumulative.back(): all (the +Inf bucket).
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
  };
  Reading Read() const {
    Reading reading{bounds_, {}, sum_.load(std::memory_order_relaxed)};
    reading.cumulative.reserve(bounds_.size() + 1);
    uint64_t total = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      total += counts_[i].load(std::memory_order_relaxed);
      reading.cumulative.push_back(total);
    }
    return reading;
  }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bounds for latencies in seconds, 100 µs to 10 s.
inline std::vector<double> LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace vigil

#endif  // VIGIL_BASE_HISTOGRAM_H_
