// The alerts context: a state machine over the obligations it follows from the owners' feeds
// (rso, ocait) and the alerts it raises from them.
//
// Inputs, each applied as ONE storage commit holding every alert and followed obligation it
// touches, their index and deadline entries, one AlertEvent per alert transition, the audit
// record, and (for feed entries) the feed cursor:
//   - Apply: entries of an owner's feed. Opened and re-timed obligations are followed, each
//     with a deadline at its due time; a re-timed due time or a closed obligation resolves its
//     alerts; a notice raises an alert at once.
//   - ScanDue: deadlines that have passed: an obligation falling due raises its overdue alert,
//     an alert reaching its next step escalates, an acknowledgement lapsing reopens; an
//     obligation reaching its due-soon share warns its owner (an event, no alert), an
//     acknowledged alert still open reminds its acknowledger; and escalations that fire late
//     raise the watchdog's system alert for their force.
//   - Acknowledge: a person takes an alert on; the climb stops.
// Because the cursor commits with what it produced, and alert ids are derived from what they
// are about, a crash at any point neither loses nor duplicates an alert.
//
// The engine is the only writer of the "alerts" feed, and writes under one mutex, so it knows
// each event's sequence before committing and stores it in the alert (Alert.sequence).
// Thread-safe.
#ifndef VIGIL_SERVICES_ALERTS_ALERT_ENGINE_H_
#define VIGIL_SERVICES_ALERTS_ALERT_ENGINE_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "services/common/metrics.h"
#include "services/common/rpc.h"
#include "services/policy/policy_registry.h"
#include "storage/store.h"
#include "vigil/v1/alerts.pb.h"
#include "vigil/v1/obligations.pb.h"

namespace vigil::alerts {

// The feed context the engine publishes AlertEvents on.
inline constexpr absl::string_view kAlertFeed = "alerts";

// One entry of an owner's feed: the events WatchObligations sent under one sequence.
struct FeedEntry {
  uint64_t sequence = 0;
  std::vector<v1::ObligationEvent> events;
};

// What one ScanDue did.
struct ScanReport {
  int deadlines = 0;  // processed
  int raised = 0;
  int escalated = 0;
  int reopened = 0;
  int warned = 0;    // due-soon warnings sent
  int reminded = 0;  // acknowledgers reminded
  int late = 0;      // escalations that fired later than the policy allows (the watchdog)
  absl::Duration worst_lateness;  // of those
  bool more = false;              // more were due than one batch takes

  // Adds `batch`'s counts to these (and keeps the worse lateness): a run of batches' total.
  void Add(const ScanReport& batch) {
    deadlines += batch.deadlines;
    raised += batch.raised;
    escalated += batch.escalated;
    reopened += batch.reopened;
    warned += batch.warned;
    reminded += batch.reminded;
    late += batch.late;
    worst_lateness = std::max(worst_lateness, batch.worst_lateness);
  }
};

class AlertEngine {
 public:
  // None owned; all outlive the engine. Escalation and acknowledgement lapses count local
  // calendar days in `zone` (the force's).
  AlertEngine(storage::Store& store, policy::PolicyRegistry& policies, const Clock& clock,
              absl::TimeZone zone)
      : store_(store), policies_(policies), clock_(clock), zone_(zone) {}

  // The last sequence of `context`'s feed applied (0 before any).
  absl::StatusOr<uint64_t> Cursor(absl::string_view context) const;

  // Applies `entries` of `context` (ascending; those at or before the cursor are skipped, so a
  // replay is harmless) in one commit that also advances the cursor.
  absl::Status Apply(absl::string_view context, const std::vector<FeedEntry>& entries)
      ABSL_LOCKS_EXCLUDED(write_mu_);

  // The earliest deadline waiting, or nullopt when none.
  absl::StatusOr<std::optional<absl::Time>> NextDue() ABSL_LOCKS_EXCLUDED(write_mu_);

  // Processes up to `max_deadlines` deadlines due at or before `now`, earliest first, in one
  // commit.
  absl::StatusOr<ScanReport> ScanDue(absl::Time now, int max_deadlines = 500)
      ABSL_LOCKS_EXCLUDED(write_mu_);

  // Calls `wake` with the earliest deadline a commit added, after every commit that added one
  // (the scanner: AlertScanner::WakeFor).
  void SetDeadlineListener(std::function<void(absl::Time earliest)> wake)
      ABSL_LOCKS_EXCLUDED(listener_mu_);

  // The RPCs' domain. Alerts of the caller's force; an officer only their own.
  absl::StatusOr<v1::Alert> Acknowledge(const CallContext& call,
                                        const v1::AcknowledgeAlertRequest& request)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::StatusOr<v1::Alert> Get(const CallContext& call, absl::string_view id);
  absl::StatusOr<v1::ListAlertsResponse> List(const CallContext& call,
                                              const v1::ListAlertsRequest& request);
  // The digest of the unresolved alerts of `force` matching `filter` as of now.
  absl::StatusOr<v1::AlertDigest> Digest(absl::string_view force, const v1::AlertFilter& filter);

  storage::Store& store() { return store_; }
  const Clock& clock() const { return clock_; }

  // The records one commit reads and changes (alert_txn.h).
  class Txn;

 private:
  // Commits `txn` with `audits` (a caller's one record, or the engine's own: one per force its
  // work concerned); wakes the scanner.
  absl::Status Commit(Txn& txn, std::vector<storage::AuditEntry> audits)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(listener_mu_);
  // Reads an alert of `force` for `call`, refusing (audited) one not there or not theirs.
  absl::StatusOr<v1::Alert> Load(const CallContext& call, absl::string_view id);

  storage::Store& store_;
  policy::PolicyRegistry& policies_;
  const Clock& clock_;
  const absl::TimeZone zone_;
  absl::Mutex write_mu_;  // every write of the alerts context, so event sequences are known
  // No deadline of the alerts space sorts before this one. Scans start here rather than at
  // the start of the space, which after a large scan holds only the tombstones of the
  // deadlines it removed (RocksDB would step over every one of them on each seek, making a
  // scan of N simultaneous deadlines quadratic). Only this engine writes the space, so it
  // lowers the floor with every deadline it adds and raises it to the last deadline each scan
  // removed. The start of the space after a restart.
  storage::Deadline scan_floor_ ABSL_GUARDED_BY(write_mu_){storage::DeadlineSpace::kAlerts,
                                                           absl::InfinitePast(), 0, ""};
  // Lowers scan_floor_ to allow for deadlines added no earlier than `due`.
  void LowerScanFloor(absl::Time due) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Mutex listener_mu_;
  std::function<void(absl::Time)> deadline_listener_ ABSL_GUARDED_BY(listener_mu_);
};

// Runs AlertEngine::ScanDue on its own thread whenever a deadline passes: sleeps until the
// earliest one (or until woken by a commit that may have added an earlier one), then works
// through everything due in batches, logging progress, so that tens of thousands of
// simultaneous deadlines never hold up other work for more than one batch's commit.
class AlertScanner {
 public:
  AlertScanner(AlertEngine& engine, const Clock& clock, int batch = 500)
      : engine_(engine), clock_(clock), batch_(batch) {}
  ~AlertScanner() { Stop(); }

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Scans again now.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  // A deadline due at `due` was added: scans again now if it is earlier than the one the
  // scanner sleeps until. Commits that add only later deadlines (almost every one) cost the
  // scanner nothing.
  void WakeFor(absl::Time due) ABSL_LOCKS_EXCLUDED(mu_);
  // Passes over the deadlines begun since Start (for tests).
  uint64_t passes() const { return passes_.load(); }

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // What Run waits for between passes (besides the next deadline): a wake or a stop.
  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || woken_; }
  // Counts one batch in the process metrics; `busy` is how long this pass has been working
  // through a backlog of passed deadlines.
  static void Record(const ScanReport& batch, absl::Duration busy);

  AlertEngine& engine_;
  const Clock& clock_;
  const int batch_;
  absl::Mutex mu_;  // Run awaits Woken(): setting either flag wakes it when mu_ is released
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The deadline Run sleeps until (on clock_), or InfinitePast while it scans: a deadline added
  // then may be missed by the pass in progress, so any WakeFor wakes it.
  absl::Time sleeping_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::atomic<uint64_t> passes_{0};
  std::thread thread_;
};

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_ALERT_ENGINE_H_
