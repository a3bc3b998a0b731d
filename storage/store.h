// A vigil store: one embedded RocksDB in a data directory with the column families of
// kFamilyNames, a schema version, and the only write path, Commit.
//
// Thread-safe: any number of threads may Commit and read concurrently. Concurrent commits are
// group-committed: one thread (the leader) takes every change queued behind it, checks their
// preconditions in queue order, assigns event sequences and audit chain positions, and writes
// them as ONE WriteBatch with sync=true. Many writers therefore share one fsync, event feeds
// never show a gap, and the audit chain is built in commit order without a lock held by
// callers across the fsync. CommitAsync queues a change without waiting for it: the store's
// committer thread leads the groups such changes start and answers each from there, so a
// server thread never parks for an fsync.
//
// Faults (see StoreHealth): if a write fails because the disk is full or the device errs, the
// store refuses every later commit at once (ResourceExhausted, Unavailable). Every
// StoreOptions::recovery_interval it asks RocksDB to resume (DB::Resume: the failed group never
// reached a memtable, the memtables are flushed and a new WAL started); once that succeeds it
// reloads its heads from disk and writes again, with no restart. RocksDB resumes from a full
// disk; after other WAL write errors it refuses, and only a restart (reopen) recovers. Corruption
// found by a write or a read is final: commits and the reads that meet it answer DataLoss until the
// store is restored from a backup. Reads keep working through a full disk.
#ifndef VIGIL_STORAGE_STORE_H_
#define VIGIL_STORAGE_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/histogram.h"
#include "storage/audit_chain.h"
#include "storage/change.h"
#include "storage/key_codec.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class Snapshot;
class Status;
}  // namespace rocksdb

namespace vigil::storage {

// The schema this build writes. Stores with a newer version are refused; older ones are
// migrated on open by the StoreOptions::migrations that lead to it. History:
//   1  the first release (0.1.0).
//   2  the obligation ledger's index keys and counters carry their owning context's prefix
//      (services/obligations/ledger.h, MigrateLedgerToV2).
//   3  the obligation ledger keeps the history of every obligation version, for the
//      point-in-time backlog (ledger.h, MigrateHistoryToV3).
//   4  audit records carry their index terms (audit_chain.h, envelope format 2) and the store's
//      indexer writes their index entries after the commit, from meta "audit_indexed" on; the
//      step (built in: no StoreOptions::migrations entry needed) starts it after the last
//      record written with its index entries.
//   5  the obligation ledger no longer keeps due indexes by team and by officer: the visit
//      plan reads the in-memory deadline index (ledger.h, DropDueIndexes).
//   6  the obligation ledger's history keeps ended versions only; the open ones are read from
//      the deadline index (ledger.h, DropOpenIntervals).
//   7  the obligation ledger no longer counts open obligations per cell in counters: the
//      backlog counts from the in-memory deadline index (ledger.h, DropOpenCounters).
inline constexpr int kSchemaVersion = 7;

class Store;

// One step up the schema: brings a store at version `to_version - 1` to `to_version`. Open runs
// it when the stored version is older, after the store is open and before Open returns, then
// records the new version. It must be idempotent: after a crash part-way the next Open runs it
// again from the start. It writes through Store::Commit like any other code.
struct Migration {
  int to_version = 0;
  std::string description;
  std::function<absl::Status(Store& store)> run;
};

// What the store can do now (Store::condition). Writes need kOk.
enum class StoreHealth {
  kOk,
  // The disk, or the volume's quota, is full: commits answer ResourceExhausted, reads work.
  // Resumes by itself once space is freed.
  kDiskFull,
  // A write failed with another I/O error: commits answer Unavailable. Retried as kDiskFull,
  // but RocksDB resumes only from some (a WAL write error needs a restart; the log says so).
  kWriteFailed,
  // RocksDB found corruption (a checksum mismatch, a missing table file): commits, and the
  // reads that meet it, answer DataLoss. Final until the store is restored from a backup.
  kCorrupt,
};

// "ok", "disk-full", "write-failed", "corrupt".
absl::string_view StoreHealthName(StoreHealth health);

struct StoreCondition {
  StoreHealth health = StoreHealth::kOk;
  // For the operator's log (may name files); empty when kOk.
  std::string detail;
  // When the store entered this condition.
  absl::Time since = absl::InfinitePast();
};

// Called whenever the condition changes, on the thread that changed it, with no store lock
// held. Must be quick and must not commit.
using ConditionListener = std::function<void(const StoreCondition& condition)>;

struct StoreOptions {
  // The data directory. Created (with parents) when missing and create_if_missing is set.
  std::string path;
  // Default: true.
  bool create_if_missing = true;
  // The Env RocksDB runs on; tests pass a fault-injecting one. Default: nullptr, meaning
  // rocksdb::Env::Default(). Not owned; must outlive the store.
  rocksdb::Env* env = nullptr;
  // Shared block cache for every column family. Default: 128 MiB.
  size_t block_cache_bytes = size_t{128} << 20;
  // Memory for memtables across all column families. Default: 256 MiB.
  size_t write_buffer_bytes = size_t{256} << 20;
  // Bounds on one commit group: changes and approximate bytes. Defaults: 512 and 16 MiB.
  size_t max_group_changes = 512;
  size_t max_group_bytes = size_t{16} << 20;
  // How often a store whose writes failed (disk full, I/O error) asks RocksDB to resume.
  // Default: 1 second.
  absl::Duration recovery_interval = absl::Seconds(1);
  // The steps that bring an older store to kSchemaVersion. A store older than kSchemaVersion
  // with no migration to it is refused (FailedPrecondition) untouched beyond what the steps
  // given have done. Default: none.
  std::vector<Migration> migrations;
  // Whether a thread of the store writes the audit index entries of new records as they commit
  // (Store::CatchUpAuditIndex). Reads of the index are complete either way: they take records
  // the indexer has not reached from the chain. Tests turn it off to see that. Default: true.
  bool index_audit_in_background = true;
};

struct CommitResult {
  // The sequence assigned to the change's first event in its context's feed; 0 if it had none.
  uint64_t event_sequence = 0;
  // The sequence of every event of the change, in the order they were added.
  std::vector<uint64_t> event_sequences;
  // The audit chain position of the change's record (its last, when it had several); 0 if it
  // had none.
  uint64_t audit_sequence = 0;
};

// What CommitAsync calls with the outcome Commit would have returned.
using CommitCallback = absl::AnyInvocable<void(absl::StatusOr<CommitResult> result) &&>;

struct FeedEvent {
  uint64_t sequence = 0;
  std::string payload;
};

// An event as committed, for commit listeners.
struct CommittedEvent {
  absl::string_view context;
  uint64_t sequence = 0;
  absl::string_view payload;
};

// Called after every successful group write with the group's events in commit order (and so
// in sequence order within each context). Runs on the committing thread while later commits
// wait: it must be quick and must not commit or block. The views are valid only during the
// call.
using CommitListener = std::function<void(const std::vector<CommittedEvent>& events)>;

// Counts since open, to observe group commit.
struct StoreStats {
  uint64_t commits = 0;        // changes written
  uint64_t groups = 0;         // WriteBatches written (each one fsync)
  uint64_t conflicts = 0;      // changes refused by a precondition
  uint64_t largest_group = 0;  // most changes in one group
};

// A consistent, read-only view of the store at one instant (a RocksDB snapshot). Cheap to
// create; copyable; must not outlive the Store that made it. Every method is thread-safe.
// Errors: Unavailable on I/O failure, DataLoss on corruption.
class ReadView {
 public:
  // The same view for a bulk read (an export of the audit log): the blocks it reads do not
  // enter the block cache, so a long scan neither evicts the working set nor grows memory.
  ReadView WithoutCaching() const;

  // Every read error is a value: DataLoss (kDamagedStore) on corruption, which also turns the
  // store kCorrupt; Unavailable on an I/O error.
  // Returns the value, or nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Get(Family family, absl::string_view key) const;
  // Get for many keys at once, the values in the keys' order: one batched lookup, which reads
  // each table's filter and index once for the keys it may hold rather than once per key.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      Family family, std::span<const std::string> keys) const;

  using ScanFn = absl::FunctionRef<bool(absl::string_view key, absl::string_view value)>;
  // Calls fn for each key in [start, limit) in key order, until fn returns false. An empty
  // `limit` means the end of the family.
  absl::Status Scan(Family family, absl::string_view start, absl::string_view limit,
                    ScanFn fn) const;
  // Calls fn for each key with `prefix`, from the first key >= `start` (empty: from the
  // beginning of the prefix), until fn returns false.
  absl::Status ScanPrefix(Family family, absl::string_view prefix, absl::string_view start,
                          ScanFn fn) const;

  using DeadlineFn = absl::FunctionRef<bool(const Deadline& deadline, absl::string_view value)>;
  // Calls fn for each deadline of `space` due in [from, before), earliest first, until fn
  // returns false. Use absl::InfinitePast() for "everything due before `before`".
  absl::Status ScanDeadlines(DeadlineSpace space, absl::Time from, absl::Time before,
                             DeadlineFn fn) const;
  // As ScanDeadlines, from the deadline `first` (inclusive; it need not exist) of its space.
  // After many deadlines were removed, starting past their tombstones saves RocksDB stepping
  // over each of them.
  absl::Status ScanDeadlinesFrom(const Deadline& first, absl::Time before, DeadlineFn fn) const;
  // The earliest deadline of `space`, or nullopt when it has none.
  absl::StatusOr<std::optional<Deadline>> EarliestDeadline(DeadlineSpace space) const;

  // Up to `max_events` events of `context` with sequence > after_sequence, in order.
  absl::StatusOr<std::vector<FeedEvent>> ReadEvents(absl::string_view context,
                                                    uint64_t after_sequence,
                                                    size_t max_events) const;

  // The counter's value; 0 if it was never written or returned to 0.
  absl::StatusOr<int64_t> Counter(absl::string_view name) const;
  using CounterFn = absl::FunctionRef<bool(absl::string_view name, int64_t value)>;
  // Calls fn for each non-zero counter whose name starts with `prefix`, in name order.
  absl::Status ScanCounters(absl::string_view prefix, CounterFn fn) const;

  // One audit record by sequence, or nullopt.
  absl::StatusOr<std::optional<StoredAuditRecord>> AuditRecord(uint64_t sequence) const;
  using AuditSequenceFn = absl::FunctionRef<bool(uint64_t sequence)>;
  // Calls fn with the sequences under an audit index prefix (AuditBy*Prefix), ascending from
  // the first > after_sequence, until fn returns false.
  absl::Status ScanAuditIndex(absl::string_view index_prefix, uint64_t after_sequence,
                              AuditSequenceFn fn) const;
  // Walks the chain from sequence `from` (default 1), checking each link and hash, and the head
  // in meta. From a later record, `previous_hash` is the hash of the record before it, as a
  // trusted source (a signed witness checkpoint) says: the records before are not read.
  absl::StatusOr<AuditChainReport> VerifyAuditChain(uint64_t from = 1,
                                                    absl::string_view previous_hash = {}) const;
  // Every force named by at least one audit record, in name order: one seek per force.
  absl::StatusOr<std::vector<std::string>> AuditedForces() const;
  // The last audit sequence whose index entries this view holds (meta "audit_indexed"; 0 when
  // none). The index answers for records up to it; the chain for those after.
  absl::StatusOr<uint64_t> AuditIndexed() const;

 private:
  friend class Store;
  ReadView(const Store* store, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* const* families,
           std::shared_ptr<const rocksdb::Snapshot> snapshot)
      : store_(store), db_(db), families_(families), snapshot_(std::move(snapshot)) {}

  // FromRocks, noting corruption in the store's condition.
  absl::Status Check(const rocksdb::Status& status, absl::string_view what) const;

  absl::Status ScanDeadlineKeys(const std::string& start, const std::string& limit,
                                DeadlineFn fn) const;
  using UnindexedAuditFn = absl::FunctionRef<bool(uint64_t sequence, const AuditTerms& terms)>;
  // Calls fn for each record after max(after_sequence, AuditIndexed()) that carries terms, in
  // sequence order, until fn returns false.
  absl::Status ScanUnindexedAudit(uint64_t after_sequence, UnindexedAuditFn fn) const;

  rocksdb::ColumnFamilyHandle* handle(Family family) const {
    return families_[static_cast<int>(family)];
  }

  const Store* store_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* const* families_;
  std::shared_ptr<const rocksdb::Snapshot> snapshot_;
  // Default: true; false for WithoutCaching's views.
  bool fill_cache_ = true;
};

// What VerifyChecksums found.
struct VerifyReport {
  uint64_t files_checked = 0;
  uint64_t bytes_checked = 0;
  // Each damaged table file and what is wrong with it, by file name.
  std::vector<std::pair<std::string, std::string>> damaged;
  bool ok() const { return damaged.empty(); }
};

class Store {
 public:
  // Opens or creates the store at options.path. Errors, each naming the directory:
  //   FailedPrecondition: the path is not a directory or not writable; the directory holds
  //     files but no RocksDB (a foreign directory); it is a RocksDB database but not a vigil
  //     store; its schema is newer than kSchemaVersion; another process holds its LOCK.
  //   NotFound: missing and create_if_missing is false.
  //   DataLoss: RocksDB reports corruption. Unavailable: an I/O error.
  //   A migration's own error, naming the step, when one fails.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);

  // The schema version of the store as open (kSchemaVersion once migrated).
  int schema_version() const { return schema_version_; }

  // Closes the store if Close() was not called, logging any error.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `change` durably and atomically (see change.h). Blocks until its group's fsync.
  // InvalidArgument: the change is malformed (Change::Validate). Aborted: a precondition did
  // not hold; nothing was written. ResourceExhausted: the disk is full. Unavailable: storage
  // failed or the store is closed. DataLoss: the store is corrupt. After ResourceExhausted or
  // Unavailable the change may or may not be on disk, but never partly.
  // FailedPrecondition, writing nothing, when called from a CommitCallback: the callback's
  // thread may be the one that must lead the group (use CommitAsync there).
  absl::StatusOr<CommitResult> Commit(const Change& change) ABSL_LOCKS_EXCLUDED(mu_);

  // Commit without waiting: queues `change` and returns. `done` runs exactly once with what
  // Commit would have returned: after the change's group is durable (or refused), on the
  // thread that wrote the group (the store's committer thread, or a Commit caller leading a
  // group), with no store lock held; at once, on the calling thread, for a malformed change or
  // a closed store. It must be quick and must not call Commit (it may call CommitAsync, or
  // hand slower work, such as a retry after Aborted, to another thread). Close() waits for
  // every queued change's callback to return.
  void CommitAsync(Change change, CommitCallback done) ABSL_LOCKS_EXCLUDED(mu_);

  // A consistent view of everything committed so far.
  ReadView Snapshot() const;

  // The last sequence assigned in `context`'s feed (0 when empty).
  uint64_t EventHead(absl::string_view context) const;
  // The last audit chain position (0 when empty).
  uint64_t AuditHead() const;
  // The last audit chain position whose index entries are written (see
  // StoreOptions::index_audit_in_background).
  uint64_t AuditIndexed() const { return audit_indexed_.load(); }
  // Writes the index entries of every record committed before the call that has none yet, in
  // batches of up to kAuditIndexBatchKeys entries, each with the new "audit_indexed" in one
  // WriteBatch. Not synced: a batch lost to a power cut is written again, as its cursor is lost
  // with it. The indexer thread runs this; tests call it.
  absl::Status CatchUpAuditIndex() ABSL_LOCKS_EXCLUDED(index_write_mu_);
  static constexpr size_t kAuditIndexBatchKeys = 4096;

  StoreStats stats() const;
  const std::string& path() const { return path_; }
  // Changes per written group, and seconds per group write (the WriteBatch and its fsync).
  const Histogram& group_sizes() const { return group_sizes_; }
  const Histogram& write_seconds() const { return write_seconds_; }

  // Whether the store can write now, and why not. Thread-safe.
  StoreCondition condition() const;
  // Registers a listener for every later change of condition. Thread-safe.
  void AddConditionListener(ConditionListener listener);

  // Reads every live table file through and checks its block checksums. Damage found turns
  // the store kCorrupt. Stops early, with what it found so far, once `*cancel` is true.
  absl::StatusOr<VerifyReport> VerifyChecksums(const std::atomic<bool>* cancel = nullptr);
  // As VerifyChecksums, on a closed store at `path`, read-only (vigild --verify).
  static absl::StatusOr<VerifyReport> VerifyChecksumsAt(const std::string& path);

  // RocksDB's own figures, for metrics: an integer property of the whole store (e.g.
  // "rocksdb.estimate-pending-compaction-bytes"), aggregated over column families; 0 if
  // unknown.
  uint64_t IntProperty(absl::string_view property) const;

  // The keys from `first` to `last` (inclusive) of one family; an empty `first` is from the
  // family's first key, an empty `last` to its last.
  struct KeyRange {
    Family family;
    std::string first;
    std::string last;
  };
  // Makes what committed deletes and redactions removed unreadable on disk: flushes every
  // family's memtable, which starts a new WAL and makes the WALs holding the old values
  // obsolete (RocksDB deletes them), then compacts `ranges` through the bottommost level, so that
  // no table file keeps an older version of their keys. For erasure: slow (a full rewrite of
  // the tables the ranges touch). Unavailable while writes are refused.
  // Waits up to kSnapshotWait for readers holding a snapshot from before the deletes, and for a
  // backup or checksum walk that holds off file deletion (Unavailable if one still does).
  absl::Status CompactAway(const std::vector<KeyRange>& ranges);
  static constexpr absl::Duration kSnapshotWait = absl::Seconds(30);

  // Registers a listener for every later commit (see CommitListener). Listeners are kept for
  // the store's life; register them before serving. Thread-safe.
  void AddCommitListener(CommitListener listener);

  // Waits for commits in progress, flushes memtables so the next open replays no WAL, and
  // closes RocksDB. Later commits fail with Unavailable. Idempotent.
  absl::Status Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Writer;
  struct GroupState;
  friend class ReadView;
  friend class Backups;

  // Records a fault found by a write or a read; kCorrupt is never replaced.
  void EnterCondition(StoreHealth health, std::string detail) const
      ABSL_LOCKS_EXCLUDED(condition_mu_);
  // Leader only: while writes are refused for a recoverable fault, asks RocksDB to resume (at
  // most once per recovery_interval) and, when it does, reloads the heads. OK when the store
  // may write.
  absl::Status RecoverIfDue();
  // Runs until Close: while the store is faulted, wakes every recovery_interval to take the
  // lead with an empty group, so the store recovers with no write arriving.
  void RecoveryLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs until Close: catches the audit index up whenever a group committed audit records,
  // at most every kAuditIndexInterval, so that each batch takes many records.
  void AuditIndexLoop() ABSL_LOCKS_EXCLUDED(index_mu_);
  static constexpr absl::Duration kAuditIndexInterval = absl::Milliseconds(10);
  // One batch of CatchUpAuditIndex: the records after audit_indexed_ up to `head`.
  absl::Status IndexAuditBatch(uint64_t head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_write_mu_);
  // Stops the indexer thread (Close).
  void StopAuditIndexer() ABSL_LOCKS_EXCLUDED(index_mu_);
  // What AuditIndexLoop waits for.
  bool IndexWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);
  // Schema 4's step: "audit_indexed" := the last record written with its index entries.
  absl::Status StartAuditIndexAfterInlineRecords();
  // Joins the commit queue and waits for `writer` to be done, leading if it comes first; mu_ is
  // released while the leader writes.
  void Enqueue(Writer& writer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the group at the front of the queue (mu_ released meanwhile), marks its writers
  // done, wakes those waiting in Commit, passes the lead to the new front writer (its thread,
  // or the committer for a CommitAsync writer), then runs the group's CommitAsync callbacks
  // with mu_ released.
  void LeadGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs until Close: leads every group whose front writer came from CommitAsync.
  void CommitLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // What CommitLoop waits for: an asynchronous writer at the front, or the end.
  bool CommitterWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What Close waits for: no writer queued and no callback running.
  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  explicit Store(std::string path) : path_(std::move(path)) {}

  absl::Status LoadHeads() ABSL_LOCKS_EXCLUDED(heads_mu_);
  // Run by the leader only: builds and writes one group, fills each writer's result.
  // `reserved_bytes`: what the group's WriteBatch is likely to need.
  void WriteGroup(const std::vector<Writer*>& group, size_t reserved_bytes)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ApplyChange(const Change& change, GroupState& state, CommitResult& result);
  absl::StatusOr<std::optional<std::string>> LatestValue(Family family, absl::string_view key,
                                                         GroupState& state);
  rocksdb::ColumnFamilyHandle* handle(Family family) const {
    return families_[static_cast<int>(family)];
  }

  // Runs options.migrations from the stored version up to kSchemaVersion.
  absl::Status Migrate(int stored_version, const std::vector<Migration>& migrations);

  const std::string path_;
  int schema_version_ = kSchemaVersion;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* families_[kFamilyCount] = {};
  std::vector<rocksdb::ColumnFamilyHandle*> extra_families_;  // opened, not used by this build
  size_t max_group_changes_ = 512;
  size_t max_group_bytes_ = size_t{16} << 20;

  // The commit queue. The front writer's thread leads the group being written, or the
  // committer thread when the front writer came from CommitAsync.
  absl::Mutex mu_;
  std::deque<Writer*> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Leaders running CommitAsync callbacks with mu_ released (Close waits for them).
  int callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread committer_thread_;

  // State only the leader mutates. Readers of the heads take heads_mu_.
  mutable absl::Mutex heads_mu_;
  absl::flat_hash_map<std::string, uint64_t> event_heads_ ABSL_GUARDED_BY(heads_mu_);
  uint64_t audit_head_sequence_ ABSL_GUARDED_BY(heads_mu_) = 0;
  std::string audit_head_hash_;  // leader only
  // The kIsFileDeletionsEnabled property's value while deletions are enabled (set at open).
  uint64_t file_deletions_enabled_value_ = 0;
  absl::flat_hash_map<std::string, int64_t> counter_cache_;  // leader only

  absl::Mutex listeners_mu_;
  std::vector<CommitListener> listeners_ ABSL_GUARDED_BY(listeners_mu_);

  // The store's condition; written by the leader, by readers meeting corruption, and read by
  // anyone. Listeners are called with condition_mu_ released.
  mutable absl::Mutex condition_mu_;
  mutable StoreCondition condition_ ABSL_GUARDED_BY(condition_mu_);
  mutable std::vector<ConditionListener> condition_listeners_ ABSL_GUARDED_BY(condition_mu_);
  // Health of writes as the leader sees it: OK, or the status every commit gets.
  mutable std::atomic<bool> faulted_{false};
  absl::Duration recovery_interval_ = absl::Seconds(1);
  absl::Time next_recovery_ = absl::InfinitePast();  // leader only
  std::string last_resume_failure_;                  // leader only: logged once per fault
  absl::CondVar recovery_wake_;                      // with mu_
  std::thread recovery_thread_;

  // The audit indexer. index_mu_ guards its wake-up; index_write_mu_ makes batches one at a
  // time (the thread's and CatchUpAuditIndex callers').
  std::atomic<uint64_t> audit_indexed_{0};
  bool audit_index_open_ = false;  // Open loaded audit_indexed_ (Close may catch up)
  absl::Mutex index_mu_;
  bool index_wanted_ ABSL_GUARDED_BY(index_mu_) = false;
  bool index_stopping_ ABSL_GUARDED_BY(index_mu_) = false;
  absl::Mutex index_write_mu_;
  std::thread index_thread_;

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> conflicts_{0};
  std::atomic<uint64_t> largest_group_{0};
  Histogram group_sizes_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};
  Histogram write_seconds_{LatencyBounds()};
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_STORE_H_
