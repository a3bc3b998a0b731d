#include "services/alerts/alert_service.h"

#include <array>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/alerts/ladder.h"
#include "services/common/errors.h"

namespace vigil::alerts {
namespace {

constexpr RoleSet kReaders{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kSystem};
constexpr RoleSet kAcknowledgers{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin};

constexpr RpcSpec kListAlerts{"vigil.v1.AlertService/ListAlerts", kReaders, true};
constexpr RpcSpec kGetAlert{"vigil.v1.AlertService/GetAlert", kReaders, true};
constexpr RpcSpec kAcknowledgeAlert{"vigil.v1.AlertService/AcknowledgeAlert", kAcknowledgers, true};
constexpr RpcSpec kSubscribe{"vigil.v1.AlertService/Subscribe", kReaders, true};
constexpr RpcSpec kSubscribeBatches{"vigil.v1.AlertService/SubscribeBatches", kReaders, true};
constexpr RpcSpec kSpecs[] = {kListAlerts, kGetAlert, kAcknowledgeAlert, kSubscribe,
                              kSubscribeBatches};

// Alert feed entries read per fetch of a subscription.
constexpr size_t kSubscribePage = 256;
// The most event bytes SubscribeBatches puts in one message: well below the 4 MiB that gRPC
// clients accept by default.
constexpr size_t kBatchBytes = size_t{1} << 20;

// What one subscription carries between fetches (fetches of one stream never overlap).
struct Subscription {
  bool audited = false;
  absl::Time next_digest = absl::InfinitePast();
  std::array<int64_t, v1::AlertEventType_ARRAYSIZE> events_since_digest{};
};

// Records a page of a subscription as it is sent: the subscriber, and every alert and subject
// the page discloses (a digest's top alerts included). Not charged to the subscriber's read
// limit: pushed alerts are their work arriving, and an alert storm must not lock a supervisor
// out of the backlog they need to act on it.
absl::Status AuditDelivery(storage::Store& store, CallContext call,
                           const std::vector<v1::AlertEvent>& delivered) {
  std::set<std::string> subjects;
  auto disclose = [&](const v1::Alert& alert) {
    subjects.insert(alert.id());
    if (!alert.obligation().subject_id().empty()) subjects.insert(alert.obligation().subject_id());
  };
  for (const v1::AlertEvent& event : delivered) {
    if (event.has_alert()) disclose(event.alert());
    for (const v1::Alert& top : event.digest().top()) disclose(top);
  }
  if (subjects.empty()) return absl::OkStatus();
  call.read_limiter = nullptr;
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION,
                             std::vector<std::string>(subjects.begin(), subjects.end())));
  return store.Commit(change).status();
}

}  // namespace

std::span<const RpcSpec> AlertServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* AlertServiceImpl::ListAlerts(grpc::CallbackServerContext* context,
                                                       const v1::ListAlertsRequest* request,
                                                       v1::ListAlertsResponse* response) {
  return runtime_.Reply(context, kListAlerts, response, [=, this](const CallContext& call) {
    return engine_.List(call, *request);
  });
}

grpc::ServerUnaryReactor* AlertServiceImpl::GetAlert(grpc::CallbackServerContext* context,
                                                     const v1::GetAlertRequest* request,
                                                     v1::Alert* response) {
  return runtime_.Reply(context, kGetAlert, response, [=, this](const CallContext& call) {
    return engine_.Get(call, request->id());
  });
}

grpc::ServerUnaryReactor* AlertServiceImpl::AcknowledgeAlert(
    grpc::CallbackServerContext* context, const v1::AcknowledgeAlertRequest* request,
    v1::Alert* response) {
  return runtime_.Reply(context, kAcknowledgeAlert, response, [=, this](const CallContext& call) {
    return engine_.Acknowledge(call, *request);
  });
}

grpc::ServerWriteReactor<v1::AlertEvent>* AlertServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  return StartSubscription<v1::AlertEvent>(
      context, *request, kSubscribe,
      [](std::vector<v1::AlertEvent> events, std::vector<v1::AlertEvent>& messages) {
        messages = std::move(events);
      });
}

grpc::ServerWriteReactor<v1::AlertEventBatch>* AlertServiceImpl::SubscribeBatches(
    grpc::CallbackServerContext* context, const v1::SubscribeBatchesRequest* request) {
  v1::SubscribeRequest subscribe;
  subscribe.set_resume_after_sequence(request->resume_after_sequence());
  *subscribe.mutable_filters() = request->filters();
  subscribe.set_digest_every_hours(request->digest_every_hours());
  subscribe.set_start_at_head(request->start_at_head());
  return StartSubscription<v1::AlertEventBatch>(
      context, subscribe, kSubscribeBatches,
      [](std::vector<v1::AlertEvent> events, std::vector<v1::AlertEventBatch>& messages) {
        // A page in as few messages as fit kBatchBytes (one event alone may exceed it): a page
        // of much-acknowledged alerts must not make a message no client accepts, which the
        // subscriber would meet again each time it resumed.
        size_t bytes = 0;
        for (v1::AlertEvent& event : events) {
          const size_t size = event.ByteSizeLong();
          if (messages.empty() || (bytes > 0 && bytes + size > kBatchBytes)) {
            messages.emplace_back();
            bytes = 0;
          }
          bytes += size;
          *messages.back().add_events() = std::move(event);
        }
      });
}

template <typename Message>
grpc::ServerWriteReactor<Message>* AlertServiceImpl::StartSubscription(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest& request, const RpcSpec& spec,
    void (*pack)(std::vector<v1::AlertEvent>, std::vector<Message>&)) {
  using Stream = FeedStream<Message>;
  auto admitted = runtime_.AdmitStream<Message>(*context, spec);
  if (auto* refused = std::get_if<grpc::ServerWriteReactor<Message>*>(&admitted)) return *refused;
  const CallContext call = std::get<CallContext>(std::move(admitted));
  v1::AlertFilter filter = request.filters();
  absl::Status invalid = ValidateFilter(filter, "filters");
  if (invalid.ok() && call.principal.role == Role::kOfficer) {
    if (!filter.officer().empty() && filter.officer() != call.principal.actor) {
      invalid = absl::PermissionDeniedError(
          absl::StrCat("an officer may follow only their own alerts: set filters.officer to '",
                       call.principal.actor, "' or leave it empty"));
    }
    filter.set_officer(call.principal.actor);
  }
  const int digest_hours = request.digest_every_hours();
  if (invalid.ok() && (digest_hours < 0 || digest_hours > 168)) {
    invalid = FieldError("digest_every_hours",
                         absl::StrCat("must be 0 (every event) or 1-168 (got ", digest_hours, ")"));
  }
  const uint64_t head = engine_.store().EventHead(kAlertFeed);
  if (invalid.ok() && !request.start_at_head() && request.resume_after_sequence() > head) {
    invalid = absl::OutOfRangeError(
        absl::StrCat("resume_after_sequence: ", request.resume_after_sequence(),
                     " is beyond the head of the alerts feed (", head, ")"));
  }
  if (!invalid.ok()) return RefuseStream<Message>(invalid);

  auto subscription = std::make_shared<Subscription>();
  typename Stream::Options options;
  options.feed_context = std::string(kAlertFeed);
  options.cursor = request.start_at_head() ? head : request.resume_after_sequence();
  options.fetch_on_tick = digest_hours > 0;
  options.fetch = [this, call, filter, digest_hours, subscription,
                   pack](uint64_t after) -> absl::StatusOr<typename Stream::Page> {
    storage::Store& store = engine_.store();
    if (!subscription->audited) {
      // The subscription itself, before anything is streamed; each page it delivers is then
      // recorded with the alerts and subjects it discloses (below).
      storage::Change change;
      change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {"alerts:subscription"}));
      VIGIL_RETURN_IF_ERROR(store.Commit(change).status());
      subscription->audited = true;
    }
    VIGIL_ASSIGN_OR_RETURN(std::vector<storage::FeedEvent> entries,
                           store.Snapshot().ReadEvents(kAlertFeed, after, kSubscribePage));
    typename Stream::Page page;
    page.cursor = after;
    page.more = entries.size() == kSubscribePage;
    std::vector<v1::AlertEvent> events;
    for (const storage::FeedEvent& entry : entries) {
      page.cursor = entry.sequence;
      v1::AlertEvent event;
      if (!event.ParseFromString(entry.payload)) {
        return absl::DataLossError(
            absl::StrCat("alerts feed entry ", entry.sequence, " is unreadable"));
      }
      if (event.alert().force() != call.principal.force || !Matches(filter, event.alert()))
        continue;
      if (digest_hours > 0) {
        ++subscription->events_since_digest[std::clamp<int>(event.type(), 0,
                                                            v1::AlertEventType_ARRAYSIZE - 1)];
      } else {
        events.push_back(std::move(event));
      }
    }
    const absl::Time now = engine_.clock().Now();
    if (digest_hours > 0 && !page.more && now >= subscription->next_digest) {
      VIGIL_ASSIGN_OR_RETURN(v1::AlertDigest digest, engine_.Digest(call.principal.force, filter));
      for (int64_t& n : subscription->events_since_digest) {
        digest.add_events_since_last(n);
        n = 0;
      }
      v1::AlertEvent& event = events.emplace_back();
      event.set_sequence(page.cursor);
      event.set_type(v1::ALERT_EVENT_TYPE_DIGEST);
      *event.mutable_event_time() = ToProtoTime(now);
      *event.mutable_digest() = std::move(digest);
      subscription->next_digest = now + absl::Hours(digest_hours);
    }
    VIGIL_RETURN_IF_ERROR(AuditDelivery(store, call, events));
    pack(std::move(events), page.messages);
    return page;
  };
  return Stream::Start(context, runtime_.executor(), notifier_, std::move(options));
}

}  // namespace vigil::alerts
