// Process-wide operational figures for operators (`vigil metrics`, AdminService.GetMetrics, and
// Prometheus through vigild --metrics-listen): how far the alert scanner has got through passed
// deadlines, how far behind it runs, how far each feed follower has applied, calls by method
// and code, latencies. Counters, gauges and histograms; never personal data.
//
// A name may carry Prometheus labels: `rpc_requests_total{method="...",code="OK"}`; the text
// before '{' is the family. Names ending in `_total` are counters, the rest gauges.
// Registration takes a lock once per name; updates are relaxed atomics, cheap enough for any
// hot path. Metrics live for the life of the process.
#ifndef VIGIL_SERVICES_COMMON_METRICS_H_
#define VIGIL_SERVICES_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "base/histogram.h"

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

// What a collector adds at scrape time: one family of labelled samples.
struct CollectedFamily {
  std::string name;  // e.g. "backlog_overdue"
  std::string help;
  std::string type;  // "gauge" or "counter"
  // {labels, value}: labels as `force="wessex",kind="HOME_VISIT"` (escaped), or empty.
  std::vector<std::pair<std::string, double>> samples;
};

// Quotes a label value for the Prometheus text format.
std::string LabelValue(absl::string_view value);

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

  // The histogram called `name` (labels allowed, as for Get), created with `bounds` on first
  // use. The reference stays valid for the life of the registry.
  Histogram& GetHistogram(absl::string_view name, absl::string_view help,
                          const std::vector<double>& bounds);

  // Reports a histogram owned elsewhere (e.g. the store's commit-group sizes) under `name`.
  // It must outlive the registration: RemoveHistogram before it goes.
  void AddHistogram(absl::string_view name, absl::string_view help, const Histogram* histogram);
  void RemoveHistogram(absl::string_view name);

  // A function run at every Prometheus scrape that adds whole families (e.g. the backlog by
  // force, kind, risk and age band). Must be thread-safe and not use this registry.
  using Collector = std::function<void(std::vector<CollectedFamily>& out)>;
  void SetCollector(absl::string_view name, Collector collect);
  void ClearCollector(absl::string_view name);

  // Every counter and gauge, by name (histograms as their _count).
  std::vector<MetricSample> Snapshot() const;

  // Everything, in the Prometheus text exposition format (version 0.0.4), each family
  // prefixed `vigil_`.
  std::string RenderPrometheus() const;

 private:
  struct Entry {
    std::string help;
    Metric metric;
    std::function<int64_t()> read;  // set for gauge functions
  };
  struct HistogramEntry {
    std::string help;
    std::unique_ptr<Histogram> owned;
    const Histogram* histogram = nullptr;  // owned, or registered by AddHistogram
  };
  mutable absl::Mutex mu_;
  absl::btree_map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, std::unique_ptr<HistogramEntry>> histograms_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_METRICS_H_
