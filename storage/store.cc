#include "storage/store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_status.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

// What Open found at the path before touching it.
enum class DirectoryState { kFresh, kExistingDb };

absl::StatusOr<DirectoryState> InspectDirectory(const std::string& path, bool create) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", path, " cannot be used: ", ec.message()));
  }
  if (!fs::exists(status)) {
    if (!create) return absl::NotFoundError(absl::StrCat("data dir ", path, " does not exist"));
    fs::create_directories(path, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", path, " cannot be created: ", ec.message()));
    }
    return DirectoryState::kFresh;
  }
  if (!fs::is_directory(status)) {
    return absl::FailedPreconditionError(absl::StrCat("data dir ", path, " is not a directory"));
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", path, " is not writable: ", std::strerror(errno)));
  }
  if (fs::exists(fs::path(path) / "CURRENT", ec)) return DirectoryState::kExistingDb;
  if (!fs::is_empty(path, ec) || ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", path,
        " is not a vigil store: it holds files but no RocksDB database; refusing to write into "
        "it (choose an empty or new directory)"));
  }
  if (!create) {
    return absl::NotFoundError(absl::StrCat("data dir ", path, " holds no vigil store"));
  }
  return DirectoryState::kFresh;
}

// Shard bits for the block cache that leave each shard at least 16 MiB. A block larger than its
// shard is never kept, and RocksDB's default sharding (64 shards of 2 MiB at 128 MiB) is smaller
// than a table's full filter block at national size (2.4 MB, an SST of ~2M keys, at 1M
// obligations): every point read of such a table read that block from the file and verified
// its checksum again, most of a backlog page's time.
int BlockCacheShardBits(size_t capacity) {
  int bits = 0;
  while (bits < 6 && (capacity >> (bits + 1)) >= (size_t{16} << 20)) ++bits;
  return bits;
}

rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = size_t{32} << 20;
  // One insert hint per memtable (every key has the empty prefix): each insert searches from
  // the previous insert's place, climbing only as far as the two keys lie apart, where the
  // memtable's own hint helps only a key landing exactly beside the last. A group's writes
  // reach RocksDB in key order (SortedByKey), so consecutive inserts are near neighbours.
  options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  return options;
}

// RocksDB's info log goes to vigild's log, never to a LOG file in the data directory: a full
// data volume must not also take the log (RocksDB's file logger can abort when it cannot
// write), and warnings belong where the operator reads.
class RocksLogger final : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    const int length = std::vsnprintf(line, sizeof line, format, ap);
    if (length > 0 && static_cast<size_t>(length) < sizeof line && line[length - 1] == '\n') {
      line[length - 1] = '\0';
    }
    // Backups and checksum passes pause file deletions together, as they should; RocksDB
    // warns of each nesting.
    if (std::strstr(line, "File Deletions") != nullptr) return;
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      VIGIL_LOG(ERROR) << "rocksdb: " << line;
    } else {
      VIGIL_LOG(WARNING) << "rocksdb: " << line;
    }
  }
};

// The store resumes from a full disk itself (Store::RecoverIfDue), one way, at a time it
// chooses: RocksDB's own recovery would race it and answer its DB::Resume with Busy for as long
// as it polls.
class NoAutomaticRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

// Options every open of a store uses, read-write or read-only.
rocksdb::DBOptions BaseDbOptions(rocksdb::Env* env) {
  rocksdb::DBOptions options;
  options.env = env != nullptr ? env : rocksdb::Env::Default();
  options.info_log = std::make_shared<RocksLogger>();
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Check what is read as well as what is written: a damaged file stops the store with
  // Corruption rather than serving wrong data.
  options.paranoid_checks = true;
  return options;
}

// The writes of `batch` in column family and key order, into `sorted`; false (and `sorted`
// unusable) if the batch holds anything but puts and deletes. Stable: writes to one key keep
// their order, so the last still wins, and the batch applies exactly as before.
//
// Why: RocksDB inserts each key of a batch into its family's skiplist memtable searching from
// where the previous insert in that memtable ended (the insert hint, FamilyOptions). A group in
// commit order scatters every change's keys over every index (an entity, its clocks' index
// entries, an audit record, then the next change's), so each search climbs from the top of the
// list; in key order consecutive keys are neighbours (events, audit records of consecutive
// sequences, deadlines of one day) and the search stays low. The leader's memtable inserts
// were 23% of vigild's CPU under RecordVisit load.
bool SortedByKey(const rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* const* families,
                 rocksdb::WriteBatch& sorted) {
  struct Write {
    uint32_t family;
    bool put;
    rocksdb::Slice key;
    rocksdb::Slice value;
  };
  class Collector final : public rocksdb::WriteBatch::Handler {
   public:
    explicit Collector(size_t expected) { writes.reserve(expected); }
    rocksdb::Status PutCF(uint32_t family, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      writes.push_back(Write{family, true, key, value});
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(uint32_t family, const rocksdb::Slice& key) override {
      writes.push_back(Write{family, false, key, rocksdb::Slice()});
      return rocksdb::Status::OK();
    }
    std::vector<Write> writes;
  };
  Collector collector(static_cast<size_t>(batch.Count()));
  if (!batch.Iterate(&collector).ok()) return false;
  std::stable_sort(collector.writes.begin(), collector.writes.end(),
                   [](const Write& a, const Write& b) {
                     if (a.family != b.family) return a.family < b.family;
                     return a.key.compare(b.key) < 0;
                   });
  for (const Write& write : collector.writes) {
    rocksdb::ColumnFamilyHandle* family = nullptr;
    for (int i = 0; i < kFamilyCount; ++i) {
      if (families[i]->GetID() == write.family) family = families[i];
    }
    if (family == nullptr) return false;
    const rocksdb::Status s =
        write.put ? sorted.Put(family, write.key, write.value) : sorted.Delete(family, write.key);
    if (!s.ok()) return false;
  }
  return true;
}

// Free space a full disk must regain before the store asks RocksDB to resume: the memtables'
// worth it will flush (FamilyOptions' write_buffer_size, twice).
constexpr uintmax_t kResumeHeadroomBytes = uintmax_t{64} << 20;

std::string EncodeInt64(int64_t value) {
  std::string out;
  PutFixed64BE(&out, static_cast<uint64_t>(value));
  return out;
}

absl::Status OpenStatus(const rocksdb::Status& status, const std::string& path) {
  if (status.ok()) return absl::OkStatus();
  const std::string text = status.ToString();
  if (status.IsIOError() && text.find("lock") != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", path,
        " is in use by another process (its RocksDB LOCK is held); stop that vigild first"));
  }
  if (status.IsCorruption() || status.IsPathNotFound()) {
    // For the operator starting vigild: the path and RocksDB's text belong here.
    return absl::DataLossError(
        absl::StrCat("data dir ", path, " is corrupt: ", text,
                     "; restore it from the latest verified backup (vigild --restore-from, "
                     "docs/operations.md)"));
  }
  return FromRocks(status, absl::StrCat("opening data dir ", path));
}

std::string CounterKey(absl::string_view name) { return absl::StrCat(kCounterPrefix, name); }

std::string EventHeadKey(absl::string_view context) {
  return absl::StrCat(kEventHeadPrefix, context);
}

// A key of a group's overlay, into `out`: the family's byte, then the key.
void OverlayKey(Family family, absl::string_view key, std::string& out) {
  out.assign(1, static_cast<char>(family));
  out.append(key.data(), key.size());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ReadView

namespace {

absl::string_view View(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

rocksdb::Slice ToSlice(absl::string_view view) { return {view.data(), view.size()}; }

rocksdb::ReadOptions SnapshotRead(const std::shared_ptr<const rocksdb::Snapshot>& snapshot,
                                  bool fill_cache) {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.get();
  options.fill_cache = fill_cache;
  return options;
}

}  // namespace

ReadView ReadView::WithoutCaching() const {
  ReadView view = *this;
  view.fill_cache_ = false;
  return view;
}

absl::Status ReadView::Check(const rocksdb::Status& status, absl::string_view what) const {
  if (status.IsCorruption() || status.IsPathNotFound()) {
    store_->EnterCondition(StoreHealth::kCorrupt, absl::StrCat(what, ": ", status.ToString()));
  }
  return FromRocks(status, what);
}

absl::StatusOr<std::optional<std::string>> ReadView::Get(Family family,
                                                         absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(SnapshotRead(snapshot_, fill_cache_), handle(family), ToSlice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return Check(s, "reading");
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>> ReadView::MultiGet(
    Family family, std::span<const std::string> keys) const {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& key : keys) slices.emplace_back(key);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(SnapshotRead(snapshot_, fill_cache_), handle(family), keys.size(), slices.data(),
                values.data(), statuses.data());
  std::vector<std::optional<std::string>> found(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return Check(statuses[i], "reading");
    found[i].emplace(values[i].data(), values[i].size());
  }
  return found;
}

absl::Status ReadView::Scan(Family family, absl::string_view start, absl::string_view limit,
                            ScanFn fn) const {
  rocksdb::ReadOptions options = SnapshotRead(snapshot_, fill_cache_);
  rocksdb::Slice upper(limit.data(), limit.size());
  if (!limit.empty()) options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handle(family)));
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next()) {
    if (!fn(View(it->key()), View(it->value()))) break;
  }
  return Check(it->status(), "scanning");
}

absl::Status ReadView::ScanPrefix(Family family, absl::string_view prefix, absl::string_view start,
                                  ScanFn fn) const {
  // The first key after every key with the prefix, as Scan's limit: the iterator then reads no
  // block, and opens no file, beyond the prefix. A prefix of 0xff bytes alone has none, and
  // needs none: every key at or after it starts with it.
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return Scan(family, start > prefix ? start : prefix, end, fn);
}

absl::Status ReadView::ScanDeadlines(DeadlineSpace space, absl::Time from, absl::Time before,
                                     DeadlineFn fn) const {
  if (before <= from) return absl::OkStatus();
  return ScanDeadlineKeys(DeadlineSeekKey(space, from), DeadlineSeekKey(space, before), fn);
}

absl::Status ReadView::ScanDeadlinesFrom(const Deadline& first, absl::Time before,
                                         DeadlineFn fn) const {
  if (before <= first.due) return absl::OkStatus();
  return ScanDeadlineKeys(EncodeDeadlineKey(first), DeadlineSeekKey(first.space, before), fn);
}

absl::Status ReadView::ScanDeadlineKeys(const std::string& start, const std::string& limit,
                                        DeadlineFn fn) const {
  absl::Status decode_status;
  VIGIL_RETURN_IF_ERROR(
      Scan(Family::kDeadlines, start, limit, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<Deadline> deadline = DecodeDeadlineKey(key);
        if (!deadline.ok()) {
          decode_status =
              absl::DataLossError(absl::StrCat("deadline index: ", deadline.status().message()));
          return false;
        }
        return fn(*deadline, value);
      }));
  return decode_status;
}

absl::StatusOr<std::optional<Deadline>> ReadView::EarliestDeadline(DeadlineSpace space) const {
  std::optional<Deadline> earliest;
  absl::Status decode_status;
  VIGIL_RETURN_IF_ERROR(ScanPrefix(Family::kDeadlines, std::string(1, static_cast<char>(space)), {},
                                   [&](absl::string_view key, absl::string_view) {
                                     absl::StatusOr<Deadline> deadline = DecodeDeadlineKey(key);
                                     if (deadline.ok()) {
                                       earliest = *std::move(deadline);
                                     } else {
                                       decode_status = absl::DataLossError(absl::StrCat(
                                           "deadline index: ", deadline.status().message()));
                                     }
                                     return false;
                                   }));
  VIGIL_RETURN_IF_ERROR(decode_status);
  return earliest;
}

absl::StatusOr<std::vector<FeedEvent>> ReadView::ReadEvents(absl::string_view context,
                                                            uint64_t after_sequence,
                                                            size_t max_events) const {
  VIGIL_RETURN_IF_ERROR(ValidateEventContext(context));
  std::vector<FeedEvent> events;
  if (max_events == 0 || after_sequence == UINT64_MAX) return events;
  absl::Status decode_status;
  VIGIL_RETURN_IF_ERROR(
      ScanPrefix(Family::kEvents, EventPrefix(context), EventKey(context, after_sequence + 1),
                 [&](absl::string_view key, absl::string_view value) {
                   absl::StatusOr<uint64_t> sequence = DecodeEventKey(context, key);
                   if (!sequence.ok()) {
                     decode_status = absl::DataLossError(sequence.status().message());
                     return false;
                   }
                   events.push_back(FeedEvent{*sequence, std::string(value)});
                   return events.size() < max_events;
                 }));
  VIGIL_RETURN_IF_ERROR(decode_status);
  return events;
}

absl::StatusOr<int64_t> ReadView::Counter(absl::string_view name) const {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kMeta, CounterKey(name)));
  if (!value.has_value()) return 0;
  if (value->size() != 8)
    return absl::DataLossError(absl::StrCat("counter ", name, " is malformed"));
  return static_cast<int64_t>(DecodeFixed64BE(value->data()));
}

absl::Status ReadView::ScanCounters(absl::string_view prefix, CounterFn fn) const {
  const std::string key_prefix = CounterKey(prefix);
  absl::Status decode_status;
  VIGIL_RETURN_IF_ERROR(ScanPrefix(
      Family::kMeta, key_prefix, {}, [&](absl::string_view key, absl::string_view value) {
        if (value.size() != 8) {
          decode_status = absl::DataLossError(absl::StrCat("counter ", key, " is malformed"));
          return false;
        }
        return fn(key.substr(kCounterPrefix.size()),
                  static_cast<int64_t>(DecodeFixed64BE(value.data())));
      }));
  return decode_status;
}

absl::StatusOr<std::optional<StoredAuditRecord>> ReadView::AuditRecord(uint64_t sequence) const {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kAudit, AuditKey(sequence)));
  if (!value.has_value()) return std::nullopt;
  absl::StatusOr<StoredAuditRecord> record = DecodeAuditEnvelope(sequence, *value);
  if (!record.ok()) return absl::DataLossError(record.status().message());
  return *std::move(record);
}

absl::StatusOr<uint64_t> ReadView::AuditIndexed() const {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kMeta, kAuditIndexedKey));
  if (!value.has_value()) return 0;
  if (value->size() != 8) return absl::DataLossError("the audit index cursor is malformed");
  return DecodeFixed64BE(value->data());
}

absl::Status ReadView::ScanUnindexedAudit(uint64_t after_sequence, UnindexedAuditFn fn) const {
  VIGIL_ASSIGN_OR_RETURN(const uint64_t indexed, AuditIndexed());
  const uint64_t from = std::max(after_sequence, indexed);
  if (from == UINT64_MAX) return absl::OkStatus();
  return Scan(Family::kAudit, AuditKey(from + 1), {},
              [&](absl::string_view key, absl::string_view value) {
                absl::StatusOr<uint64_t> sequence = DecodeAuditKey(key);
                absl::StatusOr<std::optional<AuditTerms>> terms =
                    sequence.ok() ? DecodeAuditTerms(*sequence, value) : sequence.status();
                // A malformed record is listed nowhere (VerifyAuditChain reports it) rather than
                // failing every listing; format 1 was indexed in its own commit.
                return !terms.ok() || !terms->has_value() || fn(*sequence, **terms);
              });
}

absl::StatusOr<std::vector<std::string>> ReadView::AuditedForces() const {
  const std::string prefix = AuditByForcePrefix("").substr(0, AuditByForcePrefix("").size() - 1);
  std::set<std::string> forces;
  std::string start = prefix;
  for (;;) {
    std::optional<std::string> next;
    VIGIL_RETURN_IF_ERROR(
        ScanPrefix(Family::kIndex, prefix, start, [&](absl::string_view key, absl::string_view) {
          next = std::string(key);
          return false;
        }));
    if (!next.has_value()) break;
    absl::string_view rest = absl::string_view(*next).substr(prefix.size());
    absl::string_view force;
    if (!GetLengthPrefixed(&rest, &force)) {
      return absl::DataLossError("an audit index key is malformed");
    }
    forces.emplace(force);
    // Past every sequence of this force.
    start = AuditByForcePrefix(force) + std::string(8, '\xff') + std::string(1, '\xff');
  }
  VIGIL_RETURN_IF_ERROR(ScanUnindexedAudit(0, [&](uint64_t, const AuditTerms& terms) {
    if (!terms.force.empty()) forces.insert(terms.force);
    return true;
  }));
  return std::vector<std::string>(forces.begin(), forces.end());
}

absl::Status ReadView::ScanAuditIndex(absl::string_view index_prefix, uint64_t after_sequence,
                                      AuditSequenceFn fn) const {
  if (after_sequence == UINT64_MAX) return absl::OkStatus();
  // The index up to the indexer's cursor, then the records after it from the chain, both as of
  // this view (the cursor is written with the entries it covers). Entries past the cursor (an
  // indexer that started over lower) are the chain's to answer for, so none comes twice.
  VIGIL_ASSIGN_OR_RETURN(const uint64_t indexed, AuditIndexed());
  bool more = true;
  if (after_sequence < indexed) {
    std::string start(index_prefix);
    PutFixed64BE(&start, after_sequence + 1);
    std::string limit(index_prefix);
    PutFixed64BE(&limit, indexed);
    limit.push_back('\0');  // just past the cursor's own entry
    absl::Status decode_status;
    VIGIL_RETURN_IF_ERROR(
        Scan(Family::kIndex, start, limit, [&](absl::string_view key, absl::string_view) {
          if (key.size() != index_prefix.size() + 8) return true;
          absl::StatusOr<uint64_t> seq = DecodeAuditIndexSequence(key);
          if (!seq.ok()) {
            decode_status = absl::DataLossError(seq.status().message());
            return false;
          }
          more = fn(*seq);
          return more;
        }));
    VIGIL_RETURN_IF_ERROR(decode_status);
  }
  if (!more) return absl::OkStatus();
  return ScanUnindexedAudit(after_sequence, [&](uint64_t sequence, const AuditTerms& terms) {
    for (const std::string& prefix : AuditIndexPrefixes(terms)) {
      if (prefix == index_prefix) return fn(sequence);
    }
    return true;
  });
}

absl::StatusOr<AuditChainReport> ReadView::VerifyAuditChain(uint64_t from,
                                                            absl::string_view previous_hash) const {
  AuditChainReport report;
  if (from == 0) from = 1;
  std::string previous = from == 1 ? GenesisHash() : std::string(previous_hash);
  uint64_t expected = from;
  auto broken = [&](uint64_t sequence, std::string problem) {
    report.ok = false;
    report.first_broken_sequence = sequence;
    report.problem = std::move(problem);
    return false;
  };
  VIGIL_RETURN_IF_ERROR(
      Scan(Family::kAudit, AuditKey(from), {}, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<uint64_t> sequence = DecodeAuditKey(key);
        if (!sequence.ok()) return broken(expected, "a key in the audit family is not a sequence");
        if (*sequence != expected) {
          return broken(expected,
                        absl::StrCat("record ", expected, " is missing (next is ", *sequence, ")"));
        }
        absl::StatusOr<StoredAuditRecord> record = DecodeAuditEnvelope(*sequence, value);
        if (!record.ok()) return broken(expected, std::string(record.status().message()));
        if (record->previous_hash != previous) {
          return broken(expected, "its previous_hash does not match the hash of the record before");
        }
        if (ChainHash(previous, *sequence, AuditHashedContent(value)) != record->hash) {
          return broken(expected, "its hash does not match its contents");
        }
        previous = record->hash;
        ++report.records_checked;
        ++expected;
        return true;
      }));
  if (!report.ok) return report;
  // The head guards against truncation of the tail.
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> head, Get(Family::kMeta, kAuditHeadKey));
  const uint64_t head_sequence =
      head.has_value() && head->size() == 8 + kAuditHashBytes ? DecodeFixed64BE(head->data()) : 0;
  if (head.has_value() && head->size() != 8 + kAuditHashBytes) {
    report.ok = false;
    report.first_broken_sequence = expected;
    report.problem = "the chain head record in meta is malformed";
  } else if (head_sequence != from - 1 + report.records_checked ||
             (head_sequence > 0 && head->substr(8) != previous)) {
    report.ok = false;
    report.first_broken_sequence = std::min(head_sequence, from - 1 + report.records_checked) + 1;
    report.problem = absl::StrCat("the chain head says ", head_sequence,
                                  " records but the log holds ", from - 1 + report.records_checked);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Store

struct Store::Writer {
  // Commit's writer (its thread waits on `cv`), or a recovery probe (`c` null).
  explicit Writer(const Change* c) : change(c) {}
  // CommitAsync's writer: owns its change; `callback` gets the outcome.
  Writer(Change&& c, CommitCallback&& done)
      : owned(std::move(c)), change(&*owned), callback(std::move(done)) {}
  std::optional<Change> owned;
  const Change* change;
  CommitCallback callback;  // set for CommitAsync's writers only
  absl::Status status;
  CommitResult result;
  bool done = false;  // with Store::mu_
  absl::CondVar cv;   // with Store::mu_

  bool async() const { return callback != nullptr; }
};

namespace {
// Set while a thread runs CommitAsync callbacks, which must not wait in Commit.
thread_local bool in_commit_callback = false;
}  // namespace

// Everything one group adds to the leader's state before the write succeeds.
struct Store::GroupState {
  explicit GroupState(size_t reserved_bytes) : batch(reserved_bytes) {}

  rocksdb::WriteBatch batch;
  // Values written earlier in this group to keys a later change's precondition reads, for that
  // precondition. Key: family byte | key. nullopt: deleted.
  absl::flat_hash_map<std::string, std::optional<std::string>> overlay;
  // The keys (family byte | key) of the preconditions of every change after the first: only
  // writes to these need an overlay entry.
  absl::flat_hash_set<std::string> watched;
  std::string scratch;  // reused to build overlay keys
  absl::flat_hash_map<std::string, uint64_t> event_heads;
  uint64_t audit_sequence = 0;
  std::string audit_hash;
  absl::flat_hash_map<std::string, int64_t> counters;
};

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("data dir: a path is required");
  VIGIL_ASSIGN_OR_RETURN(const DirectoryState state,
                         InspectDirectory(options.path, options.create_if_missing));

  rocksdb::DBOptions db_options = BaseDbOptions(options.env);
  db_options.create_if_missing = state == DirectoryState::kFresh;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.db_write_buffer_size = options.write_buffer_bytes;
  db_options.bytes_per_sync = size_t{1} << 20;
  db_options.max_manifest_file_size = uint64_t{64} << 20;
  db_options.listeners.push_back(std::make_shared<NoAutomaticRecovery>());

  const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(
      options.block_cache_bytes, BlockCacheShardBits(options.block_cache_bytes));
  const rocksdb::ColumnFamilyOptions family_options = FamilyOptions(cache);

  std::vector<std::string> names;
  if (state == DirectoryState::kExistingDb) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, options.path, &names);
    VIGIL_RETURN_IF_ERROR(OpenStatus(s, options.path));
    if (std::find(names.begin(), names.end(), "meta") == names.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", options.path, " is a RocksDB database but not a vigil store"));
    }
    // Probe the schema read-only first, so a store we refuse is not touched.
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.reserve(names.size());
    for (const std::string& name : names) descriptors.emplace_back(name, family_options);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* probe = nullptr;
    VIGIL_RETURN_IF_ERROR(OpenStatus(
        rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &handles, &probe),
        options.path));
    std::unique_ptr<rocksdb::DB> probe_owner(probe);
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "meta") meta = handles[i];
    }
    std::string version_text;
    rocksdb::Status vs =
        probe->Get(rocksdb::ReadOptions(), meta, ToSlice(kSchemaVersionKey), &version_text);
    bool any_data = false;
    if (vs.IsNotFound()) {
      for (rocksdb::ColumnFamilyHandle* handle : handles) {
        std::unique_ptr<rocksdb::Iterator> it(probe->NewIterator(rocksdb::ReadOptions(), handle));
        it->SeekToFirst();
        any_data = any_data || it->Valid();
      }
    }
    for (rocksdb::ColumnFamilyHandle* handle : handles) probe->DestroyColumnFamilyHandle(handle);
    probe_owner.reset();
    if (vs.IsNotFound()) {
      if (any_data) {
        return absl::FailedPreconditionError(
            absl::StrCat("data dir ", options.path,
                         " is a RocksDB database but not a vigil store (no schema version)"));
      }
      // An empty store whose creation was interrupted before its schema version was written.
    } else {
      VIGIL_RETURN_IF_ERROR(OpenStatus(vs, options.path));
      int version = 0;
      if (!absl::SimpleAtoi(version_text, &version) || version < 1) {
        return absl::DataLossError(absl::StrCat(
            "data dir ", options.path, " has a malformed schema version '", version_text, "'"));
      }
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat(
            "data dir ", options.path, " has schema version ", version,
            " but this build understands versions up to ", kSchemaVersion, "; run a newer vigild"));
      }
    }
  }
  for (absl::string_view name : kFamilyNames) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
  }
  if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName) == names.end()) {
    names.push_back(rocksdb::kDefaultColumnFamilyName);
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const std::string& name : names) descriptors.emplace_back(name, family_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  VIGIL_RETURN_IF_ERROR(OpenStatus(
      rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &db), options.path));

  std::unique_ptr<Store> store(new Store(options.path));
  store->db_ = db;
  store->recovery_interval_ = options.recovery_interval;
  store->max_group_changes_ = std::max<size_t>(1, options.max_group_changes);
  store->max_group_bytes_ = options.max_group_bytes;
  for (size_t i = 0; i < names.size(); ++i) {
    auto known = std::find(std::begin(kFamilyNames), std::end(kFamilyNames), names[i]);
    if (known != std::end(kFamilyNames)) {
      store->families_[known - std::begin(kFamilyNames)] = handles[i];
    } else {
      store->extra_families_.push_back(handles[i]);
    }
  }

  std::string version_text;
  rocksdb::Status vs = db->Get(rocksdb::ReadOptions(), store->handle(Family::kMeta),
                               ToSlice(kSchemaVersionKey), &version_text);
  int stored_version = kSchemaVersion;
  if (vs.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    VIGIL_RETURN_IF_ERROR(
        FromRocks(db->Put(sync, store->handle(Family::kMeta), ToSlice(kSchemaVersionKey),
                          absl::StrCat(kSchemaVersion)),
                  "writing the schema version"));
  } else {
    VIGIL_RETURN_IF_ERROR(OpenStatus(vs, options.path));
    if (!absl::SimpleAtoi(version_text, &stored_version)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", options.path, " has a malformed schema version '", version_text, "'"));
    }
  }
  VIGIL_RETURN_IF_ERROR(store->LoadHeads());
  // What "file deletions enabled" reads as: releases disagree (RocksDB 7 reports 1, the header
  // of later ones documents 0), and nothing has disabled them yet.
  store->db_->GetIntProperty(rocksdb::DB::Properties::kIsFileDeletionsEnabled,
                             &store->file_deletions_enabled_value_);
  if (stored_version < kSchemaVersion) {
    VIGIL_RETURN_IF_ERROR(store->Migrate(stored_version, options.migrations));
  }
  VIGIL_ASSIGN_OR_RETURN(const uint64_t indexed, store->Snapshot().AuditIndexed());
  store->audit_indexed_.store(indexed);
  store->audit_index_open_ = true;
  store->recovery_thread_ = std::thread([s = store.get()] { s->RecoveryLoop(); });
  store->committer_thread_ = std::thread([s = store.get()] { s->CommitLoop(); });
  if (options.index_audit_in_background) {
    {
      absl::MutexLock lock(&store->index_mu_);
      store->index_wanted_ = true;  // records a crash left unindexed
    }
    store->index_thread_ = std::thread([s = store.get()] { s->AuditIndexLoop(); });
  }
  return store;
}

absl::Status Store::Migrate(int stored_version, const std::vector<Migration>& migrations) {
  schema_version_ = stored_version;
  for (int next = stored_version + 1; next <= kSchemaVersion; ++next) {
    const Migration* step = nullptr;
    for (const Migration& m : migrations) {
      if (m.to_version == next) step = &m;
    }
    const Migration audit_index{
        4,
        "audit index entries written by the store's indexer after the last record indexed inline",
        [](Store& store) { return store.StartAuditIndexAfterInlineRecords(); }};
    if (step == nullptr && next == audit_index.to_version) step = &audit_index;
    if (step == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", path_, " has schema version ", schema_version_, "; this build writes ",
          kSchemaVersion, " and upgrades it only when opened by vigild (no migration to ", next,
          " was given)"));
    }
    VIGIL_LOG(INFO) << "data dir " << path_ << ": migrating schema " << schema_version_ << " to "
                    << next << ": " << step->description;
    if (absl::Status s = step->run(*this); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("data dir ", path_, ": migrating schema ", schema_version_, " to ",
                                 next, " (", step->description, "): ", s.message()));
    }
    rocksdb::WriteOptions sync;
    sync.sync = true;
    VIGIL_RETURN_IF_ERROR(FromRocks(
        db_->Put(sync, handle(Family::kMeta), ToSlice(kSchemaVersionKey), absl::StrCat(next)),
        "writing the schema version"));
    schema_version_ = next;
  }
  return absl::OkStatus();
}

absl::Status Store::LoadHeads() {
  absl::MutexLock heads(&heads_mu_);
  event_heads_.clear();
  std::string head;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handle(Family::kMeta), ToSlice(kAuditHeadKey), &head);
  if (s.ok()) {
    if (head.size() != 8 + kAuditHashBytes) {
      return absl::DataLossError(
          absl::StrCat("data dir ", path_, ": the audit chain head is malformed"));
    }
    audit_head_sequence_ = DecodeFixed64BE(head.data());
    audit_head_hash_ = head.substr(8);
  } else if (s.IsNotFound()) {
    audit_head_sequence_ = 0;
    audit_head_hash_ = GenesisHash();
  } else {
    return FromRocks(s, "reading the audit chain head");
  }

  ReadView view = Snapshot();
  absl::Status malformed;
  // Read into a local map: the callback is not analysed as holding heads_mu_.
  absl::flat_hash_map<std::string, uint64_t> loaded;
  const absl::Status scanned = view.ScanPrefix(
      Family::kMeta, kEventHeadPrefix, {}, [&](absl::string_view key, absl::string_view value) {
        if (value.size() != 8) {
          malformed = absl::DataLossError(absl::StrCat("event head ", key, " is malformed"));
          return false;
        }
        loaded[key.substr(kEventHeadPrefix.size())] = DecodeFixed64BE(value.data());
        return true;
      });
  event_heads_ = std::move(loaded);
  VIGIL_RETURN_IF_ERROR(scanned);
  VIGIL_RETURN_IF_ERROR(malformed);
  // Heads and events are written in one batch; an event beyond its head would be overwritten
  // by the next commit, so refuse to run on a store where that invariant does not hold.
  for (const auto& [context, sequence] : event_heads_) {
    VIGIL_ASSIGN_OR_RETURN(std::vector<FeedEvent> beyond, view.ReadEvents(context, sequence, 1));
    if (!beyond.empty()) {
      return absl::DataLossError(absl::StrCat("data dir ", path_, ": the event feed '", context,
                                              "' holds events beyond its recorded head ",
                                              sequence));
    }
  }
  return absl::OkStatus();
}

Store::~Store() {
  if (absl::Status s = Close(); !s.ok()) {
    VIGIL_LOG(ERROR) << "closing store " << path_ << ": " << s.message();
  }
}

absl::Status Store::CompactAway(const std::vector<KeyRange>& ranges) {
  if (faulted_.load()) {
    return absl::UnavailableError("the store is refusing writes; compact once it has recovered");
  }
  // A snapshot older than what the ranges' deletes and redactions committed keeps the old
  // values alive through any compaction: wait for readers holding one (a long export) to end.
  const rocksdb::SequenceNumber written = db_->GetLatestSequenceNumber();
  const absl::Time give_up = absl::Now() + kSnapshotWait;
  for (;;) {
    // ... and for a backup or a checksum walk, which hold off the deletion of obsolete files.
    uint64_t oldest = 0;
    uint64_t deletions = file_deletions_enabled_value_;
    const bool snapshots_clear =
        !db_->GetIntProperty(rocksdb::DB::Properties::kOldestSnapshotSequence, &oldest) ||
        oldest == 0 || oldest > written;
    const bool deletions_enabled =
        !db_->GetIntProperty(rocksdb::DB::Properties::kIsFileDeletionsEnabled, &deletions) ||
        deletions == file_deletions_enabled_value_;
    if (snapshots_clear && deletions_enabled) break;
    if (absl::Now() >= give_up) {
      return absl::UnavailableError(absl::StrCat(
          "a reader (an export or a stream) still holds a view of the store from before the "
          "erasure, or a backup is being taken, after ",
          absl::FormatDuration(kSnapshotWait),
          "; the erased values stay on disk until it ends: retry to compact again"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Every family: a WAL is obsolete only once every family with data in it has been flushed.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles(std::begin(families_), std::end(families_));
  VIGIL_RETURN_IF_ERROR(FromRocks(db_->Flush(flush, handles), "flushing memtables to compact"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  compact.exclusive_manual_compaction = false;
  for (const KeyRange& range : ranges) {
    const rocksdb::Slice begin = ToSlice(range.first);
    const rocksdb::Slice end = ToSlice(range.last);
    VIGIL_RETURN_IF_ERROR(FromRocks(
        db_->CompactRange(compact, handle(range.family), range.first.empty() ? nullptr : &begin,
                          range.last.empty() ? nullptr : &end),
        "compacting erased keys away"));
  }
  // The flush and compaction jobs delete the WAL and table files they made obsolete.
  return absl::OkStatus();
}

absl::Status Store::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (db_ == nullptr) return absl::OkStatus();
    closed_ = true;
    recovery_wake_.SignalAll();
    mu_.Await(absl::Condition(this, &Store::Drained));
  }
  if (committer_thread_.joinable()) committer_thread_.join();
  if (recovery_thread_.joinable()) recovery_thread_.join();
  StopAuditIndexer();
  absl::Status result;
  // What the indexer had not reached, so that the next open starts with a complete index (not
  // after an Open that failed before it knew the cursor: that store is left as it was).
  if (audit_index_open_ && !faulted_.load()) result = CatchUpAuditIndex();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles(std::begin(families_), std::end(families_));
  const bool healthy = !faulted_.load();
  if (healthy && result.ok()) {
    result = FromRocks(db_->Flush(flush, handles), "flushing memtables on close");
  }
  for (rocksdb::ColumnFamilyHandle*& handle : families_) {
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle);
    handle = nullptr;
  }
  for (rocksdb::ColumnFamilyHandle* handle : extra_families_)
    db_->DestroyColumnFamilyHandle(handle);
  extra_families_.clear();
  absl::Status close = FromRocks(db_->Close(), "closing RocksDB");
  delete db_;
  absl::MutexLock lock(&mu_);
  db_ = nullptr;
  return result.ok() ? close : result;
}

ReadView Store::Snapshot() const {
  rocksdb::DB* db = db_;
  std::shared_ptr<const rocksdb::Snapshot> snapshot(
      db->GetSnapshot(), [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
  return ReadView(this, db_, families_, std::move(snapshot));
}

absl::string_view StoreHealthName(StoreHealth health) {
  switch (health) {
    case StoreHealth::kOk:
      return "ok";
    case StoreHealth::kDiskFull:
      return "disk-full";
    case StoreHealth::kWriteFailed:
      return "write-failed";
    case StoreHealth::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

StoreCondition Store::condition() const {
  absl::MutexLock lock(&condition_mu_);
  return condition_;
}

void Store::AddConditionListener(ConditionListener listener) {
  absl::MutexLock lock(&condition_mu_);
  condition_listeners_.push_back(std::move(listener));
}

void Store::EnterCondition(StoreHealth health, std::string detail) const {
  StoreCondition changed;
  std::vector<ConditionListener> listeners;
  {
    absl::MutexLock lock(&condition_mu_);
    if (condition_.health == health || condition_.health == StoreHealth::kCorrupt) return;
    condition_ = StoreCondition{health, std::move(detail), absl::Now()};
    faulted_.store(health != StoreHealth::kOk);
    changed = condition_;
    listeners = condition_listeners_;
  }
  if (health == StoreHealth::kOk) {
    VIGIL_LOG(WARNING) << "store " << path_ << ": writing again";
  } else {
    VIGIL_LOG(ERROR) << "store " << path_ << ": " << StoreHealthName(health) << ": "
                     << changed.detail
                     << (health == StoreHealth::kCorrupt
                             ? "; restore the store from the latest verified backup"
                             : "; writes are refused until storage recovers");
  }
  for (const ConditionListener& listener : listeners) listener(changed);
}

absl::Status Store::RecoverIfDue() {
  const StoreCondition now = condition();
  auto refusal = [&]() -> absl::Status {
    switch (now.health) {
      case StoreHealth::kOk:
        return absl::OkStatus();
      case StoreHealth::kDiskFull:
        return DiskFullError("writing");
      case StoreHealth::kWriteFailed:
        return absl::UnavailableError(
            "storage failed writing; nothing was written; the server log says whether vigild "
            "must be restarted");
      case StoreHealth::kCorrupt:
        return absl::DataLossError(kDamagedStore);
    }
    return absl::InternalError("unknown store condition");
  };
  if (now.health == StoreHealth::kOk || now.health == StoreHealth::kCorrupt) return refusal();
  const absl::Time clock = absl::Now();
  if (clock < next_recovery_) return refusal();
  next_recovery_ = clock + recovery_interval_;
  if (now.health == StoreHealth::kDiskFull) {
    // Resuming flushes every memtable: do not try before there is room for that.
    std::error_code ec;
    const std::filesystem::space_info space = std::filesystem::space(path_, ec);
    if (!ec && space.available < kResumeHeadroomBytes) return refusal();
  }
  const rocksdb::Status resumed = db_->Resume();
  if (!resumed.ok()) {
    if (resumed.IsCorruption()) {
      EnterCondition(StoreHealth::kCorrupt, absl::StrCat("resuming: ", resumed.ToString()));
    } else if (now.health == StoreHealth::kWriteFailed && !IsDiskFull(resumed) &&
               resumed.severity() >= rocksdb::Status::Severity::kFatalError) {
      // RocksDB resumes from a full disk, not from a WAL it could not write for another
      // reason: only reopening (a restart, which replays the WAL) recovers the truth.
      next_recovery_ = absl::InfiniteFuture();
      VIGIL_LOG(ERROR) << "store " << path_
                       << ": cannot resume after this write failure; restart vigild (the WAL is "
                          "replayed on open, nothing acknowledged is lost): "
                       << resumed.ToString();
    } else if (resumed.ToString() != last_resume_failure_) {
      VIGIL_LOG(WARNING) << "store " << path_ << ": not resumed yet: " << resumed.ToString();
    }
    last_resume_failure_ = resumed.ToString();
    return refusal();
  }
  // The failed group reached no memtable; whatever RocksDB kept is what the heads must say.
  counter_cache_.clear();
  if (absl::Status s = LoadHeads(); !s.ok()) {
    VIGIL_LOG(ERROR) << "store " << path_ << ": reloading heads after resuming: " << s;
    return refusal();
  }
  EnterCondition(StoreHealth::kOk, "");
  return absl::OkStatus();
}

namespace {

// Reads each live table file of `db` through and checks its block checksums.
VerifyReport VerifyTableFiles(rocksdb::DB* db, const std::atomic<bool>* cancel = nullptr) {
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  const rocksdb::Options options(db->GetDBOptions(), rocksdb::ColumnFamilyOptions());
  VerifyReport report;
  for (const rocksdb::LiveFileMetaData& file : files) {
    if (cancel != nullptr && cancel->load()) break;
    rocksdb::SstFileReader reader(options);
    rocksdb::Status s = reader.Open(file.directory + "/" + file.relative_filename);
    if (s.ok()) s = reader.VerifyChecksum();
    ++report.files_checked;
    report.bytes_checked += file.size;
    if (!s.ok()) {
      // The file's name, not where the store lives.
      report.damaged.emplace_back(file.relative_filename,
                                  absl::StrReplaceAll(s.ToString(), {{file.directory + "/", ""}}));
    }
  }
  return report;
}

}  // namespace

absl::StatusOr<VerifyReport> Store::VerifyChecksums(const std::atomic<bool>* cancel) {
  // A compaction must not delete a listed file before it is read: that would look like damage.
  VIGIL_RETURN_IF_ERROR(FromRocks(db_->DisableFileDeletions(), "pausing file deletions"));
  VerifyReport report = VerifyTableFiles(db_, cancel);
  // Nested with BackupEngine's own pause: force=false only undoes this one.
  VIGIL_RETURN_IF_ERROR(
      FromRocks(db_->EnableFileDeletions(/*force=*/false), "resuming file deletions"));
  if (!report.ok()) {
    EnterCondition(StoreHealth::kCorrupt,
                   absl::StrCat("checksum verification: ", report.damaged.front().first, ": ",
                                report.damaged.front().second));
  }
  return report;
}

absl::StatusOr<VerifyReport> Store::VerifyChecksumsAt(const std::string& path) {
  VIGIL_ASSIGN_OR_RETURN(const DirectoryState state, InspectDirectory(path, /*create=*/false));
  if (state != DirectoryState::kExistingDb) {
    return absl::NotFoundError(absl::StrCat("data dir ", path, " holds no vigil store"));
  }
  rocksdb::DBOptions db_options = BaseDbOptions(nullptr);
  std::vector<std::string> names;
  VIGIL_RETURN_IF_ERROR(
      OpenStatus(rocksdb::DB::ListColumnFamilies(db_options, path, &names), path));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  // Opening replays the MANIFEST and the WAL, checking their records' checksums.
  VIGIL_RETURN_IF_ERROR(
      OpenStatus(rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &db), path));
  VerifyReport report = VerifyTableFiles(db);
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  delete db;
  return report;
}

uint64_t Store::IntProperty(absl::string_view property) const {
  uint64_t value = 0;
  return db_->GetAggregatedIntProperty(ToSlice(property), &value) ? value : 0;
}

void Store::RecoveryLoop() {
  absl::MutexLock lock(&mu_);
  while (!closed_) {
    // Sleeps recovery_interval_ unless closed first (WaitWithDeadline: true on timeout).
    const absl::Time deadline = absl::Now() + recovery_interval_;
    while (!closed_ && !recovery_wake_.WaitWithDeadline(&mu_, deadline)) {
    }
    if (closed_ || !faulted_.load()) continue;
    // An empty group: its leader runs RecoverIfDue like any other.
    Writer probe(nullptr);
    Enqueue(probe);
  }
}

bool Store::IndexWanted() const { return index_wanted_ || index_stopping_; }

void Store::AuditIndexLoop() {
  std::string last_failure;
  for (;;) {
    {
      absl::MutexLock lock(&index_mu_);
      index_mu_.Await(absl::Condition(this, &Store::IndexWanted));
      if (index_stopping_) return;
      index_wanted_ = false;
    }
    const absl::Status indexed = CatchUpAuditIndex();
    if (!indexed.ok() && indexed.ToString() != last_failure) {
      // Reads stay complete meanwhile (they take the unindexed records from the chain).
      VIGIL_LOG(WARNING) << "store " << path_ << ": writing audit index entries: " << indexed
                         << "; retrying every " << recovery_interval_;
    }
    last_failure = indexed.ok() ? "" : indexed.ToString();
    // Lets records gather, so that a batch takes many (or waits out a fault).
    absl::MutexLock lock(&index_mu_);
    if (index_mu_.AwaitWithTimeout(absl::Condition(&index_stopping_),
                                   indexed.ok() ? kAuditIndexInterval : recovery_interval_)) {
      return;
    }
    if (!indexed.ok()) index_wanted_ = true;
  }
}

void Store::StopAuditIndexer() {
  {
    absl::MutexLock lock(&index_mu_);
    index_stopping_ = true;
  }
  if (index_thread_.joinable()) index_thread_.join();
}

absl::Status Store::CatchUpAuditIndex() {
  if (faulted_.load()) {
    return absl::UnavailableError("the store is refusing writes; the index catches up after");
  }
  absl::MutexLock lock(&index_write_mu_);
  const uint64_t head = AuditHead();
  while (audit_indexed_.load() < head) VIGIL_RETURN_IF_ERROR(IndexAuditBatch(head));
  return absl::OkStatus();
}

absl::Status Store::IndexAuditBatch(uint64_t head) {
  const uint64_t from = audit_indexed_.load();
  std::vector<std::string> keys;
  uint64_t last = from;
  bool full = false;
  VIGIL_RETURN_IF_ERROR(Snapshot().Scan(
      Family::kAudit, AuditKey(from + 1), AuditKey(head + 1),
      [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<uint64_t> sequence = DecodeAuditKey(key);
        if (!sequence.ok()) return true;  // not a record (VerifyAuditChain reports it)
        absl::StatusOr<std::optional<AuditTerms>> terms = DecodeAuditTerms(*sequence, value);
        if (!terms.ok()) {
          // Listed nowhere, as the reads treat it; the chain's verification names it.
          VIGIL_LOG(ERROR) << "store " << path_ << ": audit record " << *sequence
                           << " is malformed and cannot be indexed: " << terms.status().message()
                           << " (vigil audit verify)";
        } else if (terms->has_value()) {  // format 1 was indexed in its own commit
          for (std::string& index_key : AuditIndexPrefixes(**terms)) {
            PutFixed64BE(&index_key, *sequence);
            keys.push_back(std::move(index_key));
          }
        }
        last = *sequence;
        full = keys.size() >= kAuditIndexBatchKeys;
        return !full;
      }));
  // A gap in the chain (VerifyAuditChain reports it) must not stop the index short of the head.
  if (!full) last = head;
  // In key order, as the group writes (SortedByKey): each memtable insert starts near the last.
  std::sort(keys.begin(), keys.end());
  rocksdb::WriteBatch batch;
  for (const std::string& key : keys)
    (void)batch.Put(handle(Family::kIndex), key, rocksdb::Slice());
  std::string cursor;
  PutFixed64BE(&cursor, last);
  (void)batch.Put(handle(Family::kMeta), ToSlice(kAuditIndexedKey), cursor);
  VIGIL_RETURN_IF_ERROR(
      FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "writing audit index entries"));
  audit_indexed_.store(last);
  return absl::OkStatus();
}

absl::Status Store::StartAuditIndexAfterInlineRecords() {
  // Records written by earlier builds (format 1) come first and were indexed in their own
  // commits; any after them were written by this build's earlier migration steps.
  uint64_t indexed = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handle(Family::kAudit)));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    VIGIL_ASSIGN_OR_RETURN(const uint64_t sequence, DecodeAuditKey(View(it->key())));
    VIGIL_ASSIGN_OR_RETURN(std::optional<AuditTerms> terms,
                           DecodeAuditTerms(sequence, View(it->value())));
    if (!terms.has_value()) {
      indexed = sequence;
      break;
    }
  }
  VIGIL_RETURN_IF_ERROR(FromRocks(it->status(), "reading the audit chain"));
  // Never lower (a step that ran before and failed later may have indexed further).
  VIGIL_ASSIGN_OR_RETURN(const uint64_t stored, Snapshot().AuditIndexed());
  std::string cursor;
  PutFixed64BE(&cursor, std::max(indexed, stored));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return FromRocks(db_->Put(sync, handle(Family::kMeta), ToSlice(kAuditIndexedKey), cursor),
                   "writing the audit index cursor");
}

void Store::AddCommitListener(CommitListener listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.push_back(std::move(listener));
}

uint64_t Store::EventHead(absl::string_view context) const {
  absl::MutexLock lock(&heads_mu_);
  auto it = event_heads_.find(context);
  return it == event_heads_.end() ? 0 : it->second;
}

uint64_t Store::AuditHead() const {
  absl::MutexLock lock(&heads_mu_);
  return audit_head_sequence_;
}

StoreStats Store::stats() const {
  return StoreStats{commits_.load(), groups_.load(), conflicts_.load(), largest_group_.load()};
}

absl::StatusOr<CommitResult> Store::Commit(const Change& change) {
  VIGIL_RETURN_IF_ERROR(change.Validate());
  if (change.empty() && change.preconditions().empty()) return CommitResult{};
  if (in_commit_callback) {
    return absl::FailedPreconditionError(
        "Store::Commit called from a commit callback, whose thread may have to lead the group it "
        "would wait for: use CommitAsync");
  }

  Writer self(&change);
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError(absl::StrCat("store ", path_, " is closed"));
  Enqueue(self);
  if (!self.status.ok()) return self.status;
  return self.result;
}

void Store::CommitAsync(Change change, CommitCallback done) {
  if (absl::Status invalid = change.Validate(); !invalid.ok()) {
    std::move(done)(std::move(invalid));
    return;
  }
  if (change.empty() && change.preconditions().empty()) {
    std::move(done)(CommitResult{});
    return;
  }
  auto writer = std::make_unique<Writer>(std::move(change), std::move(done));
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      // An empty queue makes this writer the front: releasing mu_ wakes the committer.
      queue_.push_back(writer.release());
      return;
    }
  }
  std::move(writer->callback)(absl::UnavailableError(absl::StrCat("store ", path_, " is closed")));
}

void Store::Enqueue(Writer& self) {
  queue_.push_back(&self);
  while (!self.done && queue_.front() != &self) self.cv.Wait(&mu_);
  if (!self.done) LeadGroup();
}

bool Store::CommitterWanted() const { return queue_.empty() ? closed_ : queue_.front()->async(); }

bool Store::Drained() const { return queue_.empty() && callbacks_running_ == 0; }

void Store::CommitLoop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(this, &Store::CommitterWanted));
    if (queue_.empty()) return;  // closed and drained
    LeadGroup();
  }
}

void Store::LeadGroup() {
  // Take the group queued so far, from the front (this thread's writer, or an asynchronous one).
  std::vector<Writer*> group;
  size_t bytes = 0;
  group.reserve(std::min(queue_.size(), max_group_changes_));
  for (Writer* writer : queue_) {
    if (group.size() >= max_group_changes_ || (!group.empty() && bytes >= max_group_bytes_)) break;
    group.push_back(writer);
    if (writer->change == nullptr) continue;
    for (const Change::Op& op : writer->change->ops()) bytes += op.key.size() + op.value.size();
  }
  mu_.Unlock();
  // The ops' bytes, and room for the events, audit records and per-key framing.
  WriteGroup(group, bytes + group.size() * 1024);
  mu_.Lock();

  std::vector<std::unique_ptr<Writer>> answered;
  for (Writer* writer : group) {
    queue_.pop_front();
    writer->done = true;
    if (writer->async()) {
      answered.emplace_back(writer);
    } else {
      writer->cv.Signal();  // its Commit caller waits (none for the leader's own)
    }
  }
  // The next group's leader: a Commit caller waits for its signal; the committer thread wakes
  // by itself (CommitterWanted) when mu_ is released.
  if (!queue_.empty() && !queue_.front()->async()) queue_.front()->cv.Signal();
  if (answered.empty()) return;

  ++callbacks_running_;
  mu_.Unlock();
  in_commit_callback = true;
  for (std::unique_ptr<Writer>& writer : answered) {
    if (writer->status.ok()) {
      std::move(writer->callback)(std::move(writer->result));
    } else {
      std::move(writer->callback)(std::move(writer->status));
    }
  }
  in_commit_callback = false;
  answered.clear();  // the changes are freed off the lock too
  mu_.Lock();
  --callbacks_running_;
}

absl::StatusOr<std::optional<std::string>> Store::LatestValue(Family family, absl::string_view key,
                                                              GroupState& state) {
  OverlayKey(family, key, state.scratch);
  if (auto it = state.overlay.find(state.scratch); it != state.overlay.end()) return it->second;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle(family), ToSlice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "checking a precondition");
  return value;
}

absl::Status Store::ApplyChange(const Change& change, GroupState& state, CommitResult& result) {
  // Phase 1 can fail and changes nothing: preconditions, and the counters' current values.
  for (const Change::Precondition& pre : change.preconditions()) {
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> current,
                           LatestValue(pre.family, pre.key, state));
    if (current != pre.value) {
      conflicts_.fetch_add(1, std::memory_order_relaxed);
      return absl::AbortedError(absl::StrCat(
          "conflict: ", kFamilyNames[static_cast<int>(pre.family)], " key changed concurrently"));
    }
  }
  std::vector<int64_t> counter_values;
  counter_values.reserve(change.counters().size());
  for (const auto& [name, delta] : change.counters()) {
    int64_t current = 0;
    if (auto it = state.counters.find(name); it != state.counters.end()) {
      current = it->second;
    } else if (auto cached = counter_cache_.find(name); cached != counter_cache_.end()) {
      current = cached->second;
    } else {
      std::string value;
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), handle(Family::kMeta), CounterKey(name), &value);
      if (s.ok() && value.size() == 8) {
        current = static_cast<int64_t>(DecodeFixed64BE(value.data()));
      } else if (s.ok()) {
        return absl::DataLossError(absl::StrCat("counter ", name, " is malformed"));
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "reading a counter");
      }
    }
    counter_values.push_back(current + delta);
  }

  // Phase 2 adds the change to the batch. Only WriteBatch growth past its size limit, or a
  // redaction past its feed's head, can fail here; the caller then rolls the batch back to its
  // save point, and nothing else was touched.
  for (const Change::Op& op : change.ops()) {
    rocksdb::ColumnFamilyHandle* family = handle(op.family);
    rocksdb::Status s = op.type == Change::OpType::kPut ? state.batch.Put(family, op.key, op.value)
                                                        : state.batch.Delete(family, op.key);
    if (!s.ok()) return FromRocks(s, "building the commit batch");
  }
  // Heads as this change moves them, published into the group's state in phase 3.
  absl::flat_hash_map<absl::string_view, uint64_t> heads;
  for (const Change::Event& event : change.events()) {
    auto mine = heads.find(event.context);
    uint64_t head = 0;
    if (mine != heads.end()) {
      head = mine->second;
    } else if (auto group = state.event_heads.find(event.context);
               group != state.event_heads.end()) {
      head = group->second;
    } else {
      head = EventHead(event.context);
    }
    const uint64_t sequence = head + 1;
    rocksdb::Status s =
        state.batch.Put(handle(Family::kEvents), EventKey(event.context, sequence), event.payload);
    if (!s.ok()) return FromRocks(s, "building the commit batch");
    heads[event.context] = sequence;
    result.event_sequences.push_back(sequence);
  }
  if (!result.event_sequences.empty()) result.event_sequence = result.event_sequences.front();
  for (const Change::Redaction& redaction : change.redactions()) {
    uint64_t head = 0;
    if (auto mine = heads.find(redaction.context); mine != heads.end()) {
      head = mine->second;
    } else if (auto group = state.event_heads.find(redaction.context);
               group != state.event_heads.end()) {
      head = group->second;
    } else {
      head = EventHead(redaction.context);
    }
    if (redaction.sequence > head) {
      return absl::FailedPreconditionError(
          absl::StrCat("event ", redaction.sequence, " of feed ", redaction.context,
                       " cannot be redacted: the feed ends at ", head));
    }
    rocksdb::Status s =
        state.batch.Put(handle(Family::kEvents), EventKey(redaction.context, redaction.sequence),
                        redaction.payload);
    if (!s.ok()) return FromRocks(s, "building the commit batch");
  }
  // The chain as this change's records extend it (several when vigild's own work concerns
  // several forces), published into the group's state in phase 3.
  uint64_t audit_sequence = state.audit_sequence;
  std::string audit_hash;
  for (const AuditEntry& entry : change.audits()) {
    const uint64_t sequence = ++audit_sequence;
    const std::string& previous_hash = audit_hash.empty() ? state.audit_hash : audit_hash;
    // Its index entries are the indexer's (CatchUpAuditIndex), from the terms in the content.
    const std::string content = EncodeAuditContent(entry);
    std::string hash = ChainHash(previous_hash, sequence, content);
    rocksdb::Status s = state.batch.Put(handle(Family::kAudit), AuditKey(sequence),
                                        EncodeAuditEnvelope(previous_hash, hash, content));
    if (!s.ok()) return FromRocks(s, "building the commit batch");
    audit_hash = std::move(hash);
    result.audit_sequence = sequence;
  }

  // Phase 3 cannot fail: publish the change into the group's state.
  if (!state.watched.empty()) {
    for (const Change::Op& op : change.ops()) {
      OverlayKey(op.family, op.key, state.scratch);
      if (!state.watched.contains(state.scratch)) continue;
      state.overlay[state.scratch] =
          op.type == Change::OpType::kPut ? std::optional<std::string>(op.value) : std::nullopt;
    }
  }
  for (size_t i = 0; i < counter_values.size(); ++i) {
    state.counters[change.counters()[i].first] = counter_values[i];
  }
  for (const auto& [context, head] : heads) state.event_heads[std::string(context)] = head;
  if (result.audit_sequence != 0) {
    state.audit_sequence = result.audit_sequence;
    state.audit_hash = std::move(audit_hash);
  }
  return absl::OkStatus();
}

void Store::WriteGroup(const std::vector<Writer*>& group, size_t reserved_bytes) {
  if (faulted_.load()) {
    if (absl::Status refused = RecoverIfDue(); !refused.ok()) {
      for (Writer* writer : group) writer->status = refused;
      return;
    }
  }
  GroupState state(reserved_bytes);
  state.audit_sequence = AuditHead();
  state.audit_hash = audit_head_hash_;
  for (size_t i = 1; i < group.size(); ++i) {
    if (group[i]->change == nullptr) continue;
    for (const Change::Precondition& pre : group[i]->change->preconditions()) {
      OverlayKey(pre.family, pre.key, state.scratch);
      state.watched.insert(state.scratch);
    }
  }

  std::vector<Writer*> applied;
  applied.reserve(group.size());
  for (Writer* writer : group) {
    if (writer->change == nullptr) continue;  // a recovery probe
    // A change that fails midway must leave nothing in the batch.
    state.batch.SetSavePoint();
    writer->status = ApplyChange(*writer->change, state, writer->result);
    if (writer->status.ok()) {
      (void)state.batch.PopSavePoint();
      applied.push_back(writer);
    } else {
      (void)state.batch.RollbackToSavePoint();
      writer->result = CommitResult{};
    }
  }
  if (applied.empty()) return;

  rocksdb::ColumnFamilyHandle* meta = handle(Family::kMeta);
  for (const auto& [context, head] : state.event_heads) {
    std::string value;
    PutFixed64BE(&value, head);
    (void)state.batch.Put(meta, EventHeadKey(context), value);
  }
  const bool audited = state.audit_sequence != AuditHead();
  if (audited) {
    std::string value;
    PutFixed64BE(&value, state.audit_sequence);
    value.append(state.audit_hash.data(), state.audit_hash.size());
    (void)state.batch.Put(meta, ToSlice(kAuditHeadKey), value);
  }
  for (const auto& [name, value] : state.counters) {
    if (value == 0) {
      (void)state.batch.Delete(meta, CounterKey(name));
    } else {
      (void)state.batch.Put(meta, CounterKey(name), EncodeInt64(value));
    }
  }

  rocksdb::WriteOptions sync;
  sync.sync = true;
  rocksdb::WriteBatch sorted(state.batch.GetDataSize());
  rocksdb::WriteBatch* write = SortedByKey(state.batch, families_, sorted) ? &sorted : &state.batch;
  const absl::Time write_start = absl::Now();
  const rocksdb::Status s = db_->Write(sync, write);
  write_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - write_start));
  if (!s.ok()) {
    // Whether the group reached the disk is unknown; it reached no memtable. Until RocksDB
    // resumes (RecoverIfDue), every commit is refused with the same answer.
    const StoreHealth health = s.IsCorruption() ? StoreHealth::kCorrupt
                               : IsDiskFull(s)  ? StoreHealth::kDiskFull
                                                : StoreHealth::kWriteFailed;
    EnterCondition(health, absl::StrCat("writing a commit group: ", s.ToString()));
    next_recovery_ = absl::Now() + recovery_interval_;
    const absl::Status failure = FromRocks(s, "writing a commit group");
    for (Writer* writer : applied) {
      writer->status = failure;
      writer->result = CommitResult{};
    }
    return;
  }

  {
    absl::MutexLock lock(&heads_mu_);
    for (const auto& [context, head] : state.event_heads) event_heads_[context] = head;
    audit_head_sequence_ = state.audit_sequence;
  }
  audit_head_hash_ = std::move(state.audit_hash);
  for (auto& [name, value] : state.counters) counter_cache_[name] = value;
  if (audited) {
    absl::MutexLock lock(&index_mu_);
    index_wanted_ = true;
  }
  {
    absl::MutexLock lock(&listeners_mu_);
    if (!listeners_.empty()) {
      std::vector<CommittedEvent> events;
      for (const Writer* writer : applied) {
        const std::vector<Change::Event>& added = writer->change->events();
        for (size_t i = 0; i < added.size(); ++i) {
          events.push_back(CommittedEvent{added[i].context, writer->result.event_sequences[i],
                                          added[i].payload});
        }
      }
      if (!events.empty()) {
        for (const CommitListener& listener : listeners_) listener(events);
      }
    }
  }
  commits_.fetch_add(applied.size(), std::memory_order_relaxed);
  groups_.fetch_add(1, std::memory_order_relaxed);
  group_sizes_.Observe(static_cast<double>(applied.size()));
  uint64_t largest = largest_group_.load(std::memory_order_relaxed);
  while (applied.size() > largest &&
         !largest_group_.compare_exchange_weak(largest, applied.size())) {
  }
}

}  // namespace vigil::storage
