#include "services/common/metrics.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace vigil {
namespace {

// `name{labels}` -> {"name", "labels"}.
std::pair<absl::string_view, absl::string_view> SplitLabels(absl::string_view name) {
  const size_t brace = name.find('{');
  if (brace == absl::string_view::npos || name.back() != '}') return {name, {}};
  return {name.substr(0, brace), name.substr(brace + 1, name.size() - brace - 2)};
}

std::string Number(double value) {
  if (value == static_cast<double>(static_cast<int64_t>(value))) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrFormat("%.9g", value);
}

std::string Help(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\n", "\\n"}});
}

// `name{labels}` with `extra` appended to the labels.
std::string Series(absl::string_view family, absl::string_view labels, absl::string_view extra) {
  if (labels.empty() && extra.empty()) return absl::StrCat("vigil_", family);
  return absl::StrCat("vigil_", family, "{", labels, labels.empty() || extra.empty() ? "" : ",",
                      extra, "}");
}

struct FamilyText {
  std::string help;
  std::string type;
  std::string lines;
};

}  // namespace

std::string LabelValue(absl::string_view value) {
  return absl::StrCat(
      "\"", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}), "\"");
}

Metrics& Metrics::Default() {
  static Metrics* const metrics = new Metrics();
  return *metrics;
}

Metric& Metrics::Get(absl::string_view name, absl::string_view help) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Entry>& entry = entries_[name];
  if (entry == nullptr) {
    entry = std::make_unique<Entry>();
    entry->help = std::string(help);
  }
  return entry->metric;
}

void Metrics::SetGaugeFunction(absl::string_view name, absl::string_view help,
                               std::function<int64_t()> read) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Entry>& entry = entries_[name];
  if (entry == nullptr) entry = std::make_unique<Entry>();
  entry->help = std::string(help);
  entry->read = std::move(read);
}

void Metrics::ClearGaugeFunction(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(name); it != entries_.end()) it->second->read = nullptr;
}

std::vector<MetricSample> Metrics::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<MetricSample> samples;
  samples.reserve(entries_.size() + histograms_.size());
  for (const auto& [name, entry] : entries_) {
    samples.push_back(
        MetricSample{name, entry->help, entry->read ? entry->read() : entry->metric.value()});
  }
  for (const auto& [name, entry] : histograms_) {
    const auto [family, labels] = SplitLabels(name);
    samples.push_back(MetricSample{labels.empty() ? absl::StrCat(family, "_count")
                                                  : absl::StrCat(family, "_count{", labels, "}"),
                                   entry->help,
                                   static_cast<int64_t>(entry->histogram->Read().count())});
  }
  return samples;
}

Histogram& Metrics::GetHistogram(absl::string_view name, absl::string_view help,
                                 const std::vector<double>& bounds) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<HistogramEntry>& entry = histograms_[name];
  if (entry == nullptr) {
    entry = std::make_unique<HistogramEntry>();
    entry->help = std::string(help);
    entry->owned = std::make_unique<Histogram>(bounds);
    entry->histogram = entry->owned.get();
  }
  return *entry->owned;
}

void Metrics::AddHistogram(absl::string_view name, absl::string_view help,
                           const Histogram* histogram) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<HistogramEntry>& entry = histograms_[name];
  entry = std::make_unique<HistogramEntry>();
  entry->help = std::string(help);
  entry->histogram = histogram;
}

void Metrics::RemoveHistogram(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  histograms_.erase(name);
}

void Metrics::SetCollector(absl::string_view name, Collector collect) {
  absl::MutexLock lock(&mu_);
  collectors_[name] = std::move(collect);
}

void Metrics::ClearCollector(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  collectors_.erase(name);
}

std::string Metrics::RenderPrometheus() const {
  absl::btree_map<std::string, FamilyText> families;
  std::vector<CollectedFamily> collected;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : entries_) {
      const auto [family, labels] = SplitLabels(name);
      FamilyText& text = families[family];
      if (text.type.empty()) {
        text.help = entry->help;
        text.type = absl::EndsWith(family, "_total") ? "counter" : "gauge";
      }
      const int64_t value = entry->read ? entry->read() : entry->metric.value();
      absl::StrAppend(&text.lines, Series(family, labels, ""), " ", value, "\n");
    }
    for (const auto& [name, entry] : histograms_) {
      const auto [family, labels] = SplitLabels(name);
      FamilyText& text = families[family];
      text.help = entry->help;
      text.type = "histogram";
      const Histogram::Reading reading = entry->histogram->Read();
      for (size_t i = 0; i < reading.bounds.size(); ++i) {
        absl::StrAppend(&text.lines,
                        Series(absl::StrCat(family, "_bucket"), labels,
                               absl::StrCat("le=\"", Number(reading.bounds[i]), "\"")),
                        " ", reading.cumulative[i], "\n");
      }
      absl::StrAppend(&text.lines, Series(absl::StrCat(family, "_bucket"), labels, "le=\"+Inf\""),
                      " ", reading.count(), "\n", Series(absl::StrCat(family, "_sum"), labels, ""),
                      " ", Number(reading.sum), "\n",
                      Series(absl::StrCat(family, "_count"), labels, ""), " ", reading.count(),
                      "\n");
    }
    for (const auto& [name, collect] : collectors_) collect(collected);
  }
  for (const CollectedFamily& family : collected) {
    FamilyText& text = families[family.name];
    text.help = family.help;
    text.type = family.type;
    for (const auto& [labels, value] : family.samples) {
      absl::StrAppend(&text.lines, Series(family.name, labels, ""), " ", Number(value), "\n");
    }
  }
  std::string out;
  for (const auto& [family, text] : families) {
    absl::StrAppend(&out, "# HELP vigil_", family, " ", Help(text.help), "\n# TYPE vigil_", family,
                    " ", text.type, "\n", text.lines);
  }
  return out;
}

}  // namespace vigil
