// A Change is everything one state change writes: entity puts and deletes, index entries,
// deadline entries added and removed, feed events (usually one; rarely, a redaction of an
// earlier one), at most one audit record,
// counter deltas, and the preconditions under which it may apply. Store::Commit applies it as part
// of ONE RocksDB WriteBatch written with sync=true: all of it is durable, or none of it is.
//
// A Change is built by one thread and handed to Store::Commit; it is not thread-safe.
// Intentionally copyable (tests commit the same change twice).
#ifndef VIGIL_STORAGE_CHANGE_H_
#define VIGIL_STORAGE_CHANGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/audit_chain.h"
#include "storage/key_codec.h"

namespace vigil::storage {

// The column families of a vigil store. Column families are opened by name (kFamilyNames);
// the enum order is only an in-memory index.
enum class Family : uint8_t { kEntities, kIndex, kDeadlines, kEvents, kAudit, kMeta };
inline constexpr int kFamilyCount = 6;
inline constexpr absl::string_view kFamilyNames[kFamilyCount] = {"entities", "index", "deadlines",
                                                                 "events",   "audit", "meta"};

class Change {
 public:
  enum class OpType : uint8_t { kPut, kDelete };
  struct Op {
    Family family;
    OpType type;
    std::string key;
    std::string value;
  };
  struct Precondition {
    Family family;
    std::string key;
    // nullopt: the key must be absent. Otherwise its value must equal these bytes.
    std::optional<std::string> value;
  };
  struct Event {
    std::string context;
    std::string payload;
  };
  // An event already on a feed whose payload is replaced (erasure: the sequence stays, so the
  // feed stays gapless, and only what it said is gone).
  struct Redaction {
    std::string context;
    uint64_t sequence;
    std::string payload;
  };

  Change() = default;

  // Writes to the `entities`, `index` or `meta` families. Keys of `index` starting with
  // "audit/" and keys of `meta` are reserved to the store: Commit refuses them.
  void Put(Family family, std::string key, std::string value);
  void Delete(Family family, std::string key);

  // Adds or removes a deadline index entry. `value` is returned by deadline scans.
  void AddDeadline(const Deadline& deadline, std::string value = {});
  void RemoveDeadline(const Deadline& deadline);

  // Appends `payload` to the event feed of `context`; Commit assigns the next sequence and
  // reports it in CommitResult. Several events of one change take consecutive sequences, in
  // the order added (a batch of alerts is one change with one event per alert).
  void AddEvent(std::string context, std::string payload);

  // Replaces the payload of event `sequence` of `context`, which must be on the feed already
  // (1 <= sequence <= the feed's head when the change commits; otherwise Commit fails the
  // change with FailedPrecondition). For erasure only: readers that already read the event
  // keep what they read; readers from now on read `payload`.
  void RedactEvent(std::string context, uint64_t sequence, std::string payload);

  // Appends `entry` to the audit chain; Commit assigns its sequence and hash. At most one
  // SetAudit per change: a second is a bug Validate reports.
  void SetAudit(AuditEntry entry);
  // Appends one more record: for vigild's own work that touches several forces at once (a batch
  // of alerts), which is recorded under each force it concerns, one record per force, in this
  // change's commit. The records take consecutive sequences in the order added.
  void AddAudit(AuditEntry entry);

  // Adds `delta` to the int64 counter `name` (created at 0). A counter that returns to 0 is
  // removed from disk and reads as 0. Deltas to one counter that sum to 0 within the change
  // leave it untouched: the commit neither reads nor writes it.
  void AddToCounter(absl::string_view name, int64_t delta);

  // The change applies only if, at commit time, `key` is absent / holds exactly `value`.
  // Otherwise Commit fails it with Aborted and writes nothing of it. Evaluated in commit order,
  // so a concurrent change committed just before this one is seen.
  void ExpectAbsent(Family family, std::string key);
  void ExpectValue(Family family, std::string key, std::string value);

  bool empty() const;

  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<Precondition>& preconditions() const { return preconditions_; }
  const std::vector<Event>& events() const { return events_; }
  const std::vector<Redaction>& redactions() const { return redactions_; }
  const std::vector<AuditEntry>& audits() const { return audits_; }
  const std::vector<std::pair<std::string, int64_t>>& counters() const { return counters_; }

  // InvalidArgument (naming the problem) if the change writes to a reserved key or family, set
  // its audit record twice, or names a bad event context. Commit calls it.
  absl::Status Validate() const;

 private:
  std::vector<Op> ops_;
  std::vector<Precondition> preconditions_;
  std::vector<Event> events_;
  std::vector<Redaction> redactions_;
  std::vector<AuditEntry> audits_;
  std::vector<std::pair<std::string, int64_t>> counters_;
  int audits_set_ = 0;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_CHANGE_H_
