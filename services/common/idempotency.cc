#include "services/common/idempotency.h"

#include "absl/strings/str_cat.h"
#include "base/crypto/digest.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "storage/key_codec.h"
#include "vigil/v1/audit.pb.h"

namespace vigil {
namespace {

constexpr char kFormat = 1;
// A response redacted by an erasure: nothing of the request or the response stays (not even the
// request's digest, which someone holding a candidate request could confirm).
constexpr char kErasedFormat = 2;
constexpr size_t kHeaderBytes = 1 + crypto::kSha256Bytes;

// The request without its top-level request_id, serialized deterministically (map entries in
// key order), so that the same request always gives the same bytes.
std::string BodyBytes(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  if (const google::protobuf::FieldDescriptor* field =
          copy->GetDescriptor()->FindFieldByName("request_id");
      field != nullptr) {
    copy->GetReflection()->ClearField(copy.get(), field);
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    copy->SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::Status Reused(absl::string_view request_id, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("request_id ", request_id, " was already used ", why, "; use a new request_id"));
}

}  // namespace

IdempotentRequest BindRequest(const CallContext& call, const google::protobuf::Message& request,
                              absl::string_view request_id) {
  IdempotentRequest bound;
  if (request_id.empty()) return bound;
  bound.request_id = std::string(request_id);
  bound.force = call.principal.force;
  bound.actor = call.principal.actor;
  bound.digest = crypto::Sha256({call.method, absl::string_view("\0", 1), BodyBytes(request)});
  return bound;
}

IdempotentRequest BindRequest(const CallContext& call, const google::protobuf::Message& request) {
  std::string request_id;
  if (const google::protobuf::FieldDescriptor* field =
          request.GetDescriptor()->FindFieldByName("request_id");
      field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
      !field->is_repeated()) {
    request_id = request.GetReflection()->GetString(request, field);
  }
  return BindRequest(call, request, request_id);
}

std::string IdempotencyKey(absl::string_view context, const IdempotentRequest& request) {
  return absl::StrCat(
      "idem/", storage::LengthPrefixed(context), storage::LengthPrefixed(request.force),
      storage::LengthPrefixed(request.actor), storage::LengthPrefixed(request.request_id));
}

absl::StatusOr<std::optional<std::string>> StoredResponse(const storage::ReadView& view,
                                                          absl::string_view context,
                                                          const IdempotentRequest& request,
                                                          absl::string_view legacy_key) {
  if (request.empty()) return std::optional<std::string>();
  absl::StatusOr<std::optional<std::string>> stored =
      view.Get(storage::Family::kIndex, IdempotencyKey(context, request));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    if (!legacy_key.empty()) {
      absl::StatusOr<std::optional<std::string>> legacy =
          view.Get(storage::Family::kIndex, legacy_key);
      if (!legacy.ok()) return legacy.status();
      if (legacy->has_value()) {
        return Reused(request.request_id,
                      "in this force before request ids were bound to their caller");
      }
    }
    return std::optional<std::string>();
  }
  const std::string& value = **stored;
  if (!value.empty() && value[0] == kErasedFormat) {
    return absl::FailedPreconditionError(
        absl::StrCat("request_id ", request.request_id,
                     " concerned a record since erased under the retention schedule; its response "
                     "is no longer kept; use a new request_id"));
  }
  if (value.size() < kHeaderBytes || value[0] != kFormat) {
    return absl::DataLossError(
        absl::StrCat("the stored response of request_id ", request.request_id, " is unreadable"));
  }
  if (absl::string_view(value).substr(1, crypto::kSha256Bytes) != request.digest) {
    return Reused(request.request_id, "for a different request");
  }
  return std::optional<std::string>(value.substr(kHeaderBytes));
}

void StoreResponse(absl::string_view context, const IdempotentRequest& request,
                   absl::string_view response, storage::Change& change) {
  if (request.empty()) return;
  const std::string key = IdempotencyKey(context, request);
  change.ExpectAbsent(storage::Family::kIndex, key);
  change.Put(storage::Family::kIndex, key,
             absl::StrCat(absl::string_view(&kFormat, 1), request.digest, response));
}

std::string IdempotencyPrefix(absl::string_view context, absl::string_view force) {
  return absl::StrCat("idem/", storage::LengthPrefixed(context), storage::LengthPrefixed(force));
}

bool HoldsStringField(absl::string_view bytes, absl::string_view id) {
  if (id.empty() || id.size() > 127) return false;
  // A string field holding exactly `id` is serialized as its length (one byte under 128) then
  // its bytes.
  for (size_t at = bytes.find(id); at != absl::string_view::npos; at = bytes.find(id, at + 1)) {
    if (at > 0 && static_cast<unsigned char>(bytes[at - 1]) == id.size()) return true;
  }
  return false;
}

bool StoredResponseHolds(absl::string_view value, absl::string_view id) {
  return value.size() >= kHeaderBytes && value[0] == kFormat &&
         HoldsStringField(value.substr(kHeaderBytes), id);
}

std::string ErasedStoredResponse() { return std::string(1, kErasedFormat); }

storage::AuditEntry AuditReplay(const CallContext& call, const IdempotentRequest& request,
                                std::vector<std::string> subject_ids) {
  storage::AuditEntry entry = call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(subject_ids));
  v1::AuditRecord record;
  if (record.ParseFromString(entry.body)) {
    record.set_replay(true);
    record.set_request_id(request.request_id);
    entry.body = record.SerializeAsString();
  }
  return entry;
}

}  // namespace vigil
