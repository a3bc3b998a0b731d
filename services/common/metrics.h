// Process-wide operational figures for operators (`vigil metrics`, AdminService.GetMetrics):
// how far the alert scanner has got through passed deadlines, how far behind it runs, how far
// each feed follower has applied. Counters and gauges only, never personal data.
//
// Registration takes a lock once per name; updates are relaxed atomics, cheap enough for any
// hot path. Metrics live for the life of the process.
#ifndef VIGIL_SERVICES_COMMON_METRICS_H_
#define VIGIL_SERVICES_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"

namespace vigil {

class Metric {
 public:
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

struct MetricSample {
  std::string name;
  std::string help;
  int64_t value = 0;
};

class Metrics {
 public:
  // The process's registry.
  static Metrics& Default();

  // The metric called `name`, registered with `help` on first use. The reference stays valid
  // for the life of the registry.
  Metric& Get(absl::string_view name, absl::string_view help);

  // A gauge read when sampled: `read` must be cheap, thread-safe, and not use this registry.
  // Registering a name again replaces the function.
  void SetGaugeFunction(absl::string_view name, absl::string_view help,
                        std::function<int64_t()> read);

  // Stops reading `name` through a function (before what it reads goes away); it then reads 0.
  void ClearGaugeFunction(absl::string_view name);

  // Every metric, by name.
  std::vector<MetricSample> Snapshot() const;

 private:
  struct Entry {
    std::string help;
    Metric metric;
    std::function<int64_t()> read;  // set for gauge functions
  };
  mutable std::mutex mu_;
  absl::btree_map<std::string, std::unique_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_METRICS_H_
