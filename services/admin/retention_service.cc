#include "services/admin/retention_service.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/field_error.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/idempotency.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "storage/change.h"

namespace vigil::admin {
namespace {

constexpr RpcSpec kListDueForReview{
    "vigil.v1.RetentionService/ListDueForReview", {Role::kForceAdmin}, true};
constexpr RpcSpec kReviewRecord{
    "vigil.v1.RetentionService/ReviewRecord", {Role::kForceAdmin}, true};
constexpr RpcSpec kEraseRecord{"vigil.v1.RetentionService/EraseRecord", {Role::kForceAdmin}, true};
constexpr RpcSpec kSpecs[] = {kListDueForReview, kReviewRecord, kEraseRecord};

// Oldest review first, then by kind and id: the order of the listing and of its cursor.
auto OrderOf(const v1::RecordRetention& r) {
  return std::make_tuple(absl::ToUnixMicros(TimeOf(r.review_time())),
                         static_cast<int>(r.record_type()), r.record_id());
}

// Where a page ends: the listing's as_of and the last record's place in the order.
struct Cursor {
  int64_t as_of_micros = 0;
  std::tuple<int64_t, int, std::string> last;
};

std::string CursorOf(absl::Time as_of, const v1::RecordRetention& r) {
  const auto [micros, type, id] = OrderOf(r);
  return absl::StrCat(absl::ToUnixMicros(as_of), "/", micros, "/", type, "/", id);
}

absl::StatusOr<Cursor> ParseCursor(absl::string_view cursor) {
  const std::vector<absl::string_view> parts = absl::StrSplit(cursor, absl::MaxSplits('/', 3));
  Cursor parsed;
  int64_t micros = 0;
  int type = 0;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[0], &parsed.as_of_micros) ||
      !absl::SimpleAtoi(parts[1], &micros) || !absl::SimpleAtoi(parts[2], &type)) {
    return FieldError("page.page_token", "malformed; start again without a token");
  }
  parsed.last = std::make_tuple(micros, type, std::string(parts[3]));
  return parsed;
}

absl::Status ValidateType(v1::RecordType type, bool required) {
  if (!v1::RecordType_IsValid(type) || (required && type == v1::RECORD_TYPE_UNSPECIFIED)) {
    return FieldError("record_type", "give RECORD_TYPE_OFFENDER or RECORD_TYPE_REFERRAL");
  }
  return absl::OkStatus();
}

}  // namespace

std::span<const RpcSpec> RetentionServiceImpl::Specs() { return kSpecs; }

absl::StatusOr<RecordKeeper*> RetentionServiceImpl::KeeperOf(v1::RecordType type) const {
  VIGIL_RETURN_IF_ERROR(ValidateType(type, /*required=*/true));
  for (RecordKeeper* keeper : keepers_) {
    if (keeper->record_type() == type) return keeper;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("this vigild does not keep ", v1::RecordType_Name(type),
                   " records; ask the vigild that hosts their owning context"));
}

grpc::ServerUnaryReactor* RetentionServiceImpl::ListDueForReview(
    grpc::CallbackServerContext* context, const v1::ListDueForReviewRequest* request,
    v1::ListDueForReviewResponse* response) {
  return runtime_.Reply(
      context, kListDueForReview, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::ListDueForReviewResponse> {
        VIGIL_RETURN_IF_ERROR(ValidateType(request->record_type(), /*required=*/false));
        VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request->page().page_size()));
        // An unset as_of is the first page's now, carried in the token so the pages agree.
        const std::string query =
            absl::StrCat("due-for-review|", call.principal.force, "|", request->record_type(), "|",
                         request->has_as_of() ? "given" : "now");
        VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                               DecodePageToken(request->page().page_token(), query));
        absl::Time as_of = call.now;
        if (request->has_as_of()) {
          VIGIL_ASSIGN_OR_RETURN(as_of, FromProtoTime(request->as_of(), "as_of"));
        }
        std::optional<Cursor> after;
        if (!cursor.empty()) {
          VIGIL_ASSIGN_OR_RETURN(after, ParseCursor(cursor));
          if (request->has_as_of() && absl::ToUnixMicros(as_of) != after->as_of_micros) {
            return FieldError("page.page_token", "belongs to another as_of; start again");
          }
          as_of = absl::FromUnixMicros(after->as_of_micros);
        }
        if (keepers_.empty()) {
          return absl::FailedPreconditionError(
              "no owning context (rso, ocait) is hosted by this vigild; ask where they run");
        }

        std::vector<v1::RecordRetention> due;
        for (RecordKeeper* keeper : keepers_) {
          if (request->record_type() != v1::RECORD_TYPE_UNSPECIFIED &&
              keeper->record_type() != request->record_type()) {
            continue;
          }
          VIGIL_ASSIGN_OR_RETURN(std::vector<v1::RecordRetention> part,
                                 keeper->DueForReview(call, as_of));
          for (v1::RecordRetention& r : part) {
            if (!after.has_value() || OrderOf(r) > after->last) due.push_back(std::move(r));
          }
        }
        std::sort(due.begin(), due.end(),
                  [](const v1::RecordRetention& a, const v1::RecordRetention& b) {
                    return OrderOf(a) < OrderOf(b);
                  });

        v1::ListDueForReviewResponse result;
        std::vector<std::string> listed;
        for (v1::RecordRetention& r : due) {
          if (result.records_size() == page_size) {
            result.set_next_page_token(
                EncodePageToken(query, CursorOf(as_of, result.records(page_size - 1))));
            break;
          }
          listed.push_back(r.record_id());
          *result.add_records() = std::move(r);
        }
        // The page names people: a consultation of every record on it, before it is returned.
        if (!listed.empty()) {
          storage::Change audit;
          audit.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(listed)));
          VIGIL_RETURN_IF_ERROR(store_.Commit(audit).status());
        }
        return result;
      });
}

grpc::ServerUnaryReactor* RetentionServiceImpl::ReviewRecord(grpc::CallbackServerContext* context,
                                                             const v1::ReviewRecordRequest* request,
                                                             v1::RecordRetention* response) {
  return runtime_.Reply(
      context, kReviewRecord, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::RecordRetention> {
        VIGIL_ASSIGN_OR_RETURN(RecordKeeper * keeper, KeeperOf(request->record_type()));
        VIGIL_RETURN_IF_ERROR(ValidateId("record_id", request->record_id()));
        VIGIL_RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
        VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request->request_id(), 128, false));
        VIGIL_ASSIGN_OR_RETURN(const std::optional<absl::Time> next,
                               OptionalProtoTime(request->has_next_review_time(),
                                                 request->next_review_time(), "next_review_time"));
        return keeper->Review(call, request->record_id(), request->reason(), next,
                              BindRequest(call, *request));
      });
}

grpc::ServerUnaryReactor* RetentionServiceImpl::EraseRecord(grpc::CallbackServerContext* context,
                                                            const v1::EraseRecordRequest* request,
                                                            v1::EraseRecordResponse* response) {
  return runtime_.Reply(
      context, kEraseRecord, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::EraseRecordResponse> {
        VIGIL_ASSIGN_OR_RETURN(RecordKeeper * keeper, KeeperOf(request->record_type()));
        VIGIL_RETURN_IF_ERROR(ValidateId("record_id", request->record_id()));
        VIGIL_RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
        VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request->request_id(), 128, true));
        return keeper->Erase(call, request->record_id(), request->reason(),
                             BindRequest(call, *request));
      });
}

}  // namespace vigil::admin
