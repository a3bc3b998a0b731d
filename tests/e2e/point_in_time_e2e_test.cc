// The point-in-time backlog end to end (issue #17, item 5): a real vigild loaded with a
// force's history (the demo's Cheshire-like register and referral queue, imported with their
// past), the backlog read as of a month ago, about half the force's work done today (visits and
// assessments recorded, referrals closed), and the backlog as of a month ago read again through
// the API and the CLI: the same figures exactly, while as of now they have changed.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/backlog.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil {
namespace {

using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

google::protobuf::Timestamp Proto(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

class PointInTimeEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigild_ = std::make_unique<VigildProcess>(dir_.path());
    ASSERT_THAT(vigild_->Start(), IsOk());
    RunResult seeded =
        RunVigil(vigild_->address(), {"demo", "seed", "--offenders", "300", "--referrals", "160"},
                 {"Insp Reid", "supervisor", "wessex", "e2e", "north", "inspector"});
    ASSERT_EQ(seeded.exit_code, 0) << seeded.output;
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    testing::AddIdentity(*context, {"Insp Reid", "supervisor", "wessex", "e2e"});
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return context;
  }

  v1::BacklogSummary Summary(absl::Time as_of) {
    v1::GetBacklogSummaryRequest request;
    *request.mutable_as_of() = Proto(as_of);
    v1::BacklogSummary summary;
    const grpc::Status status = v1::BacklogService::NewStub(vigild_->channel())
                                    ->GetBacklogSummary(Context().get(), request, &summary);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return summary;
  }

  std::vector<v1::BacklogItem> Items(absl::Time as_of, v1::BacklogOrder order) {
    std::vector<v1::BacklogItem> items;
    v1::ListBacklogItemsRequest request;
    *request.mutable_as_of() = Proto(as_of);
    request.set_order(order);
    request.mutable_page()->set_page_size(53);
    for (;;) {
      v1::ListBacklogItemsResponse page;
      const grpc::Status status = v1::BacklogService::NewStub(vigild_->channel())
                                      ->ListBacklogItems(Context().get(), request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      EXPECT_EQ(page.view(), v1::AS_OF_VIEW_HISTORY);
      items.insert(items.end(), page.items().begin(), page.items().end());
      if (page.next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page.next_page_token());
    }
    return items;
  }

  v1::GetWorkloadResponse Workload(absl::Time as_of) {
    v1::GetWorkloadRequest request;
    *request.mutable_as_of() = Proto(as_of);
    v1::GetWorkloadResponse workload;
    const grpc::Status status = v1::BacklogService::NewStub(vigild_->channel())
                                    ->GetWorkload(Context().get(), request, &workload);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return workload;
  }

  std::string Cli(absl::Time as_of) {
    RunResult r =
        RunVigil(vigild_->address(),
                 {"backlog", "--as-of",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", as_of, absl::UTCTimeZone()), "-o", "json"},
                 {"Insp Reid", "supervisor", "wessex", "e2e"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  // Today's work: every other active offender visited and assessed, every other open referral
  // closed. Returns how many changes were recorded.
  int DoHalfTheWork() {
    const absl::Time an_hour_ago = absl::Now() - absl::Hours(1);
    int done = 0;
    auto offenders = v1::OffenderService::NewStub(vigild_->channel());
    auto assessments = v1::AssessmentService::NewStub(vigild_->channel());
    auto visits = v1::VisitService::NewStub(vigild_->channel());
    v1::ListOffendersRequest list;
    list.set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
    list.mutable_page()->set_page_size(500);
    v1::ListOffendersResponse page;
    EXPECT_TRUE(offenders->ListOffenders(Context().get(), list, &page).ok());
    for (int i = 0; i < page.offenders_size(); i += 2) {
      const v1::Offender& o = page.offenders(i);
      v1::RecordVisitRequest visit;
      visit.set_offender_id(o.id());
      *visit.mutable_visit_time() = Proto(an_hour_ago);
      visit.add_officers(o.owner_officer());
      visit.add_officers("PC 301");
      visit.set_announced(false);
      visit.set_outcome(v1::VISIT_OUTCOME_SEEN);
      visit.set_device_check_done(true);
      visit.set_device_check_result(v1::DEVICE_CHECK_RESULT_NOTHING_FOUND);
      visit.set_request_id(absl::StrCat("pit/visit/", o.id()));
      v1::Visit recorded;
      const grpc::Status v = visits->RecordVisit(Context().get(), visit, &recorded);
      EXPECT_TRUE(v.ok()) << o.id() << ": " << v.error_message();
      done += v.ok();
      v1::RecordArmsAssessmentRequest arms;
      arms.set_offender_id(o.id());
      *arms.mutable_completed_time() = Proto(an_hour_ago);
      arms.set_assessor(o.owner_officer());
      arms.set_risk_level(o.risk_level() == v1::RISK_LEVEL_UNSPECIFIED ? v1::RISK_LEVEL_MEDIUM
                                                                       : o.risk_level());
      arms.set_request_id(absl::StrCat("pit/arms/", o.id()));
      v1::ArmsAssessment assessed;
      const grpc::Status a = assessments->RecordArmsAssessment(Context().get(), arms, &assessed);
      EXPECT_TRUE(a.ok()) << o.id() << ": " << a.error_message();
      done += a.ok();
    }
    auto referrals = v1::ReferralService::NewStub(vigild_->channel());
    v1::ListReferralsRequest open;
    open.mutable_page()->set_page_size(500);
    v1::ListReferralsResponse queue;
    EXPECT_TRUE(referrals->ListReferrals(Context().get(), open, &queue).ok());
    for (int i = 0; i < queue.referrals_size(); i += 2) {
      v1::CloseReferralRequest close;
      close.set_id(queue.referrals(i).id());
      close.set_outcome(v1::REFERRAL_OUTCOME_NO_FURTHER_ACTION);
      close.set_reason("point-in-time e2e: closed today");
      close.set_request_id(absl::StrCat("pit/close/", close.id()));
      v1::Referral closed;
      const grpc::Status c = referrals->CloseReferral(Context().get(), close, &closed);
      EXPECT_TRUE(c.ok()) << close.id() << ": " << c.error_message();
      done += c.ok();
    }
    return done;
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
};

TEST_F(PointInTimeEndToEndTest, BacklogAsOfLastMonthKeepsItsFiguresWhenHalfIsClosedToday) {
  const absl::Time last_month =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) - absl::Hours(24 * 30);
  const v1::BacklogSummary then = Summary(last_month);
  EXPECT_EQ(then.view(), v1::AS_OF_VIEW_HISTORY);
  ASSERT_GT(then.total(), 20) << then.DebugString();
  ASSERT_GT(then.total_open(), then.total());
  const std::vector<v1::BacklogItem> oldest = Items(last_month, v1::BACKLOG_ORDER_OLDEST_FIRST);
  const std::vector<v1::BacklogItem> riskiest = Items(last_month, v1::BACKLOG_ORDER_RISK_THEN_AGE);
  EXPECT_EQ(static_cast<int64_t>(oldest.size()), then.total());
  EXPECT_EQ(static_cast<int64_t>(riskiest.size()), then.total());
  const v1::GetWorkloadResponse load = Workload(last_month);
  const std::string cli = Cli(last_month);
  const v1::BacklogSummary now_before = Summary(absl::Now());
  EXPECT_EQ(now_before.view(), v1::AS_OF_VIEW_CURRENT);

  ASSERT_GT(DoHalfTheWork(), 100);

  const v1::BacklogSummary again = Summary(last_month);
  EXPECT_TRUE(Same(then, again)) << then.DebugString() << "\n---\n" << again.DebugString();
  const std::vector<v1::BacklogItem> oldest_again =
      Items(last_month, v1::BACKLOG_ORDER_OLDEST_FIRST);
  const std::vector<v1::BacklogItem> riskiest_again =
      Items(last_month, v1::BACKLOG_ORDER_RISK_THEN_AGE);
  ASSERT_EQ(oldest_again.size(), oldest.size());
  ASSERT_EQ(riskiest_again.size(), riskiest.size());
  for (size_t i = 0; i < oldest.size(); ++i) {
    EXPECT_TRUE(Same(oldest[i], oldest_again[i])) << i;
    EXPECT_TRUE(Same(riskiest[i], riskiest_again[i])) << i;
  }
  EXPECT_TRUE(Same(load, Workload(last_month)));
  EXPECT_EQ(Cli(last_month), cli);

  // As of now, the work done shows.
  const v1::BacklogSummary now_after = Summary(absl::Now());
  EXPECT_EQ(now_after.view(), v1::AS_OF_VIEW_CURRENT);
  EXPECT_LT(now_after.total(), now_before.total());
  EXPECT_LT(now_after.total_open(), now_before.total_open());
}

}  // namespace
}  // namespace vigil
