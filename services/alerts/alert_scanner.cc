#include <algorithm>

#include "base/logging.h"
#include "services/alerts/alert_engine.h"

namespace vigil::alerts {

void AlertScanner::Start() {
  absl::MutexLock lock(&mu_);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AlertScanner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AlertScanner::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void AlertScanner::WakeFor(absl::Time due) {
  absl::MutexLock lock(&mu_);
  if (due < sleeping_until_ || sleeping_until_ == absl::InfinitePast()) woken_ = true;
}

void AlertScanner::Record(const ScanReport& batch, absl::Duration busy) {
  Metrics& m = Metrics::Default();
  static Metric& batches =
      m.Get("alerts_scan_batches_total", "Scanner commits (up to 500 deadlines each)");
  static Metric& deadlines = m.Get("alerts_scan_deadlines_total", "Passed deadlines processed");
  static Metric& escalated = m.Get("alerts_escalated_total", "Escalation steps taken");
  static Metric& reopened =
      m.Get("alerts_reopened_total", "Acknowledgements lapsed while still overdue");
  static Metric& backlog = m.Get("alerts_scan_backlog_seconds",
                                 "How long the scanner has been working through passed deadlines "
                                 "without catching up (0: caught up)");
  static Metric& warned =
      m.Get("alerts_due_soon_warnings_total", "Due-soon warnings sent to obligations' owners");
  static Metric& reminded =
      m.Get("alerts_reminders_total", "Reminders sent to acknowledgers of alerts still open");
  static Metric& late = m.Get("alerts_escalations_late_total",
                              "Escalations that fired later than the policy allows "
                              "(escalation_late_minutes); each raises the watchdog's alert");
  static Metric& lateness = m.Get("alerts_escalation_lateness_seconds",
                                  "How late the latest late escalation fired (0 again once "
                                  "escalations fire on time)");
  if (batch.deadlines > 0) batches.Add(1);
  deadlines.Add(batch.deadlines);
  escalated.Add(batch.escalated);
  reopened.Add(batch.reopened);
  warned.Add(batch.warned);
  reminded.Add(batch.reminded);
  late.Add(batch.late);
  if (batch.late > 0) {
    lateness.Set(absl::ToInt64Seconds(batch.worst_lateness));
    VIGIL_LOG(WARNING) << "alerts: " << batch.late << " escalations fired late (the worst by "
                       << batch.worst_lateness << "): the watchdog alerted the duty inspector";
  } else if (batch.escalated > 0) {
    lateness.Set(0);
  }
  backlog.Set(batch.more ? absl::ToInt64Seconds(busy) : 0);
}

void AlertScanner::Run() {
  // Between waits nothing is held: a batch commits and the next one starts, so RPCs and feed
  // entries interleave with a large backlog of deadlines.
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      woken_ = false;
      sleeping_until_ = absl::InfinitePast();
    }
    passes_.fetch_add(1);
    const absl::Time started = absl::Now();
    ScanReport total;
    absl::Time logged = started;
    absl::Status failed;
    while (true) {
      absl::StatusOr<ScanReport> report = engine_.ScanDue(clock_.Now(), batch_);
      if (!report.ok()) {
        failed = report.status();
        break;
      }
      Record(*report, absl::Now() - started);
      total.Add(*report);
      if (!report->more) break;
      if (absl::Now() - logged > absl::Seconds(5)) {
        logged = absl::Now();
        VIGIL_LOG(INFO) << "alerts: working through passed deadlines: " << total.deadlines
                        << " so far (" << total.raised << " raised, " << total.escalated
                        << " escalated)";
      }
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!failed.ok()) {
      VIGIL_LOG(ERROR) << "alerts: scanning deadlines failed: " << failed << "; retrying in 5s";
    } else if (total.deadlines > 0) {
      VIGIL_LOG(INFO) << "alerts: " << total.deadlines << " deadlines in " << absl::Now() - started
                      << ": " << total.raised << " raised, " << total.escalated << " escalated, "
                      << total.reopened << " reopened, " << total.warned << " due-soon warnings, "
                      << total.reminded << " reminders";
    }
    absl::Duration wait = failed.ok() ? absl::Minutes(1) : absl::Seconds(5);
    // Until when nothing earlier than what is known now can fall due; a later WakeFor with an
    // earlier deadline cuts the sleep short.
    absl::Time until = absl::InfinitePast();
    if (failed.ok()) {
      const absl::Time now = clock_.Now();
      absl::StatusOr<std::optional<absl::Time>> next = engine_.NextDue();
      if (next.ok() && next->has_value()) {
        wait = std::clamp(**next - now, absl::ZeroDuration(), absl::Minutes(1));
      }
      if (next.ok()) until = now + wait;
    }
    absl::MutexLock lock(&mu_);
    sleeping_until_ = until;
    mu_.AwaitWithTimeout(absl::Condition(this, &AlertScanner::Woken), wait);
  }
}

}  // namespace vigil::alerts
