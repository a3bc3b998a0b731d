#include "services/common/read_limiter.h"

#include <algorithm>

namespace vigil {

ReadLimiter::Bucket& ReadLimiter::Refill(absl::string_view key, absl::Time now) {
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = limits_.burst;
    bucket.updated = now;
    return bucket;
  }
  if (now > bucket.updated) {
    const double earned = absl::ToDoubleSeconds(now - bucket.updated) * limits_.records_per_second;
    bucket.tokens = std::min(limits_.burst, bucket.tokens + earned);
    bucket.updated = now;
  }
  return bucket;
}

ReadLimiter::Decision ReadLimiter::Admit(absl::string_view principal_key, absl::Time now) {
  Decision decision;
  if (!enabled()) return decision;
  absl::MutexLock lock(&mu_);
  Bucket& bucket = Refill(principal_key, now);
  if (bucket.tokens >= 1) {
    bucket.refusing = false;
    return decision;
  }
  decision.admitted = false;
  decision.retry_after = absl::Seconds((1 - bucket.tokens) / limits_.records_per_second);
  decision.episode_start = !bucket.refusing;
  bucket.refusing = true;
  return decision;
}

void ReadLimiter::Charge(absl::string_view principal_key, int64_t records, absl::Time now) {
  if (!enabled() || records <= 0) return;
  absl::MutexLock lock(&mu_);
  Refill(principal_key, now).tokens -= static_cast<double>(records);
}

}  // namespace vigil
