// A per-principal limit on reads of personal data: a token bucket per (force, actor) counted in
// records disclosed. A call is admitted while its principal's bucket is not in debt; the records
// a call returns are charged when its consultation is audited, so one large page may overdraw
// the bucket and the calls after it wait for the refill. The limit makes bulk extraction slow
// and visible; it is not a quota.
#ifndef VIGIL_SERVICES_COMMON_READ_LIMITER_H_
#define VIGIL_SERVICES_COMMON_READ_LIMITER_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil {

struct ReadLimits {
  // Records per second a principal may read, sustained. 0 disables the limit. Default: 20.
  double records_per_second = 20;
  // Records a principal may read at once after a quiet spell. Default: 200.
  double burst = 200;
};

class ReadLimiter {
 public:
  explicit ReadLimiter(ReadLimits limits) : limits_(limits) {}

  struct Decision {
    bool admitted = true;
    // When refused: how long until the principal may read again.
    absl::Duration retry_after;
    // When refused: true for the first refusal since the principal was last admitted (the
    // start of an episode, which the caller audits as a possible bulk extraction).
    bool episode_start = false;
  };

  // Whether `principal_key` may start a read at `now`. Thread-safe.
  Decision Admit(absl::string_view principal_key, absl::Time now);
  // Charges `records` disclosed to `principal_key` at `now`. Thread-safe.
  void Charge(absl::string_view principal_key, int64_t records, absl::Time now);

  bool enabled() const { return limits_.records_per_second > 0; }
  const ReadLimits& limits() const { return limits_; }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    bool refusing = false;
  };
  // The bucket of `key` refilled to `now`.
  Bucket& Refill(absl::string_view key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ReadLimits limits_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_READ_LIMITER_H_
