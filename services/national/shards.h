// The national backlog's view of the shards: one vigild per force (or region of forces), each
// serving its force's BacklogService, asked all at once with a deadline per shard.
//
// A shard that does not answer within the deadline, or answers with an error, is left out of
// the answer and named (ShardAnswer::answer holds why); the others are never held back by it.
// Each call to a shard goes over this process's service credential (the --peer-* TLS
// certificate with role `service`, internal_call.h) and names the person who asked, so the
// shard audits the access under that person, relayed by this vigild.
#ifndef VIGIL_SERVICES_NATIONAL_SHARDS_H_
#define VIGIL_SERVICES_NATIONAL_SHARDS_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/common/internal_call.h"
#include "services/common/rpc.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil::national {

// One entry of --shards: the force and the address of the vigild serving it.
struct ShardAddress {
  std::string force;
  std::string address;
  friend bool operator==(const ShardAddress&, const ShardAddress&) = default;
};

// Parses "wessex=vigild-wessex:7420,mercia=10.0.0.2:7420" into entries sorted by force.
// InvalidArgument naming --shards: an entry without FORCE=ADDRESS, a force that is not 1-64
// of [a-z0-9_-], a force given twice, or no entry at all.
absl::StatusOr<std::vector<ShardAddress>> ParseShards(absl::string_view flag);

// One shard, reachable: the force it serves and a channel to it.
struct Shard {
  std::string force;
  std::shared_ptr<grpc::Channel> channel;
  // How the channel reaches it: kRemote (TLS with the service certificate) in production; a
  // test may give an in-process channel of its own.
  Hop hop = Hop::kRemote;
};

// What one shard said: its answer, or why it has none (DeadlineExceeded when it was too slow,
// Unavailable when it could not be reached, or the error it gave).
template <typename Response>
struct ShardAnswer {
  std::string force;
  absl::StatusOr<Response> answer;
};

// The principal a call to a shard acts for: the person who asked, named with their role,
// as role `system` of the shard's force (the only role a force's BacklogService admits for
// another process acting for someone). Recorded by the shard in its audit log.
Principal DelegateTo(const Principal& caller, absl::string_view force);

// The shards of --shards, asked concurrently. Thread-safe; never blocks except in FanOut.
class ShardSet {
 public:
  // Default for `deadline`: 2 s (vigild --shard-deadline).
  ShardSet(std::vector<Shard> shards, absl::Duration deadline);

  // The forces, in name order.
  std::vector<std::string> forces() const;
  absl::Duration deadline() const { return deadline_; }

  // Starts `start(async_stub, context, request, response, done)` on every shard for which
  // `request_for(force)` gives a request, all at once, each with its own deadline, and waits
  // until each has answered or passed its deadline (never much longer than the deadline).
  // Returns one answer per shard asked, in force order. `start` calls one method of the
  // asynchronous stub, e.g.
  //   [](auto* stub, auto* context, auto* request, auto* response, auto done) {
  //     stub->GetBacklogSummary(context, request, response, std::move(done));
  //   }
  template <typename Request, typename Response, typename Start>
  std::vector<ShardAnswer<Response>> FanOut(
      const CallContext& call,
      const std::function<std::optional<Request>(const std::string&)>& request_for,
      Start start) const {
    struct Pending {
      const Entry* shard = nullptr;
      grpc::ClientContext context;
      Request request;
      Response response;
      grpc::Status status;
    };
    std::vector<std::unique_ptr<Pending>> pending;
    const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMicroseconds(deadline_);
    for (const Entry& shard : shards_) {
      std::optional<Request> request = request_for(shard.force);
      if (!request.has_value()) continue;
      auto p = std::make_unique<Pending>();
      p->shard = &shard;
      p->request = *std::move(request);
      IdentifyInternalCall(p->context, shard.hop, DelegateTo(call.principal, shard.force),
                           call.purpose);
      p->context.set_deadline(deadline);
      pending.push_back(std::move(p));
    }
    std::mutex mu;
    std::condition_variable done;
    size_t remaining = pending.size();
    for (const auto& p : pending) {
      start(p->shard->stub->async(), &p->context, &p->request, &p->response,
            [p = p.get(), &mu, &done, &remaining](grpc::Status status) {
              std::lock_guard lock(mu);
              p->status = std::move(status);
              if (--remaining == 0) done.notify_all();
            });
    }
    {
      // gRPC runs every callback by the deadline (DEADLINE_EXCEEDED at the latest); what
      // `pending` holds must outlive them all, so this waits for each.
      std::unique_lock lock(mu);
      done.wait(lock, [&] { return remaining == 0; });
    }
    std::vector<ShardAnswer<Response>> answers;
    for (const auto& p : pending) {
      if (p->status.ok()) {
        answers.push_back({p->shard->force, std::move(p->response)});
      } else {
        answers.push_back({p->shard->force, FromShard(p->shard->force, p->status)});
      }
    }
    return answers;
  }

 private:
  struct Entry {
    std::string force;
    std::unique_ptr<v1::BacklogService::Stub> stub;
    Hop hop;
  };
  // The shard's error as an absl::Status with the force named: "mercia: deadline of 2s
  // exceeded", "mercia: unreachable (...)".
  absl::Status FromShard(absl::string_view force, const grpc::Status& status) const;

  std::vector<Entry> shards_;  // sorted by force
  const absl::Duration deadline_;
};

}  // namespace vigil::national

#endif  // VIGIL_SERVICES_NATIONAL_SHARDS_H_
