// Idempotent retries of writes, bound to the caller. A write that carries a request_id stores
// its response in the same commit under a key of the context, the caller's force and actor and
// the id, together with a digest of what was asked (the RPC and the request without its
// request_id). Then:
//   - the same caller sending the same request again gets the stored response and nothing is
//     written (the context audits the replay as a consultation when it carries personal data);
//   - the same caller sending another request (another RPC or body) with the id is refused,
//     FailedPrecondition, and learns nothing of the first;
//   - another caller using the same id has another key: their write is a new write, and nothing
//     of the first caller's stored response can reach them.
//
// index key := "idem/" lp(context) lp(force) lp(actor) lp(request_id)
// value     := format:uint8 (= 1) | request_digest:32 | response
//            | format:uint8 (= 2)                          (erased with the record it held)
// request_digest := SHA-256(rpc | 0x00 | request serialized deterministically, request_id cleared)
//
// Stores written before request ids were bound to their caller hold the response under a key of
// the force and id alone (each context's "legacy" key, see its keys.h). Those entries are never
// written again and never answered from: an id found there is refused like a different request,
// because whose it was and what it asked are unknown.
#ifndef VIGIL_SERVICES_COMMON_IDEMPOTENCY_H_
#define VIGIL_SERVICES_COMMON_IDEMPOTENCY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "services/common/rpc.h"
#include "storage/change.h"
#include "storage/store.h"

namespace vigil {

// A write's request id with whom it came from and what it asked. Intentionally copyable.
struct IdempotentRequest {
  // Empty: the write is not idempotent; nothing is looked up or stored.
  std::string request_id;
  std::string force;
  std::string actor;
  // SHA-256 of the RPC and the request without its request_id (the grammar above).
  std::string digest;

  bool empty() const { return request_id.empty(); }
};

// Binds `request_id` (usually the request's own request_id field) to the caller and the
// request. The request's top-level field named "request_id", if it has one, is left out of the
// digest.
IdempotentRequest BindRequest(const CallContext& call, const google::protobuf::Message& request,
                              absl::string_view request_id);
// BindRequest with the request's own "request_id" field (empty when it has none).
IdempotentRequest BindRequest(const CallContext& call, const google::protobuf::Message& request);

// The index key of a bound request id in `context` ("rso", "ocait", "alert", "policy").
std::string IdempotencyKey(absl::string_view context, const IdempotentRequest& request);

// The response an earlier call of the same caller stored under the id, or nullopt when the
// caller has not used it (and always for an empty request). FailedPrecondition, naming the
// id and saying to use a new one, when the caller used it for a different request, or when
// `legacy_key` (non-empty) is present in the index family. DataLoss: the entry is unreadable.
absl::StatusOr<std::optional<std::string>> StoredResponse(const storage::ReadView& view,
                                                          absl::string_view context,
                                                          const IdempotentRequest& request,
                                                          absl::string_view legacy_key = {});

// Adds to `change` the stored response of `request` and the precondition that the caller has
// not used the id meanwhile. Nothing for an empty request.
void StoreResponse(absl::string_view context, const IdempotentRequest& request,
                   absl::string_view response, storage::Change& change);

// Every stored response of `force` in `context` is under this prefix (erasure scans it).
std::string IdempotencyPrefix(absl::string_view context, absl::string_view force);
// True when serialized protobuf `bytes` hold a string field equal to `id` (ids of at most 127
// bytes; a field that merely contains it does not count).
bool HoldsStringField(absl::string_view bytes, absl::string_view id);
// True when the stored value's response holds a string field equal to `id` (a record with that
// id, or a response naming it): what an erasure of record `id` must redact.
bool StoredResponseHolds(absl::string_view value, absl::string_view id);
// What replaces a stored value whose response held an erased record: the caller's retry with the
// id, whatever the request, is FailedPrecondition saying the record was erased, and nothing of
// the request or response remains.
std::string ErasedStoredResponse();

// The audit entry of a replay: a consultation of `subject_ids` (what the stored response
// discloses again), marked as a replay of the request id.
storage::AuditEntry AuditReplay(const CallContext& call, const IdempotentRequest& request,
                                std::vector<std::string> subject_ids);

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_IDEMPOTENCY_H_
