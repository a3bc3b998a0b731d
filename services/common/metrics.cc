#include "services/common/metrics.h"

namespace vigil {

Metrics& Metrics::Default() {
  static Metrics* const metrics = new Metrics();
  return *metrics;
}

Metric& Metrics::Get(absl::string_view name, absl::string_view help) {
  std::lock_guard lock(mu_);
  std::unique_ptr<Entry>& entry = entries_[name];
  if (entry == nullptr) {
    entry = std::make_unique<Entry>();
    entry->help = std::string(help);
  }
  return entry->metric;
}

void Metrics::SetGaugeFunction(absl::string_view name, absl::string_view help,
                               std::function<int64_t()> read) {
  std::lock_guard lock(mu_);
  std::unique_ptr<Entry>& entry = entries_[name];
  if (entry == nullptr) entry = std::make_unique<Entry>();
  entry->help = std::string(help);
  entry->read = std::move(read);
}

void Metrics::ClearGaugeFunction(absl::string_view name) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(name); it != entries_.end()) it->second->read = nullptr;
}

std::vector<MetricSample> Metrics::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<MetricSample> samples;
  samples.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) {
    samples.push_back(
        MetricSample{name, entry->help, entry->read ? entry->read() : entry->metric.value()});
  }
  return samples;
}

}  // namespace vigil
