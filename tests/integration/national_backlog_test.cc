// The national backlog against fake shards: real gRPC servers in this process (one per force,
// over in-process channels) that answer as a force's BacklogService would, one of which can be
// made slow or down. Shows the fan-out's deadline, the partial answers, the merges, the
// oldest-first listing across shards and pages, and that no personal data leaves.
#include "services/national/national_backlog.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/national/shards.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil::national {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vigil::testing::StatusIs;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 23, 12, 0, 0), absl::UTCTimeZone());

// One force's BacklogService, answering from a fixed list of overdue obligations.
class FakeShard final : public v1::BacklogService::Service {
 public:
  FakeShard(std::string force, std::vector<v1::Obligation> overdue)
      : force_(std::move(force)), overdue_(std::move(overdue)) {
    std::sort(overdue_.begin(), overdue_.end(), [](const auto& a, const auto& b) {
      return std::pair(TimeOf(a.due_time()), a.id()) < std::pair(TimeOf(b.due_time()), b.id());
    });
  }

  // Every later call waits this long (or until cancelled) before answering.
  void set_delay(absl::Duration delay) { delay_ = delay; }
  // Every later call fails with this.
  void set_error(grpc::Status error) { error_ = std::move(error); }
  // The identity headers of the last call.
  std::map<std::string, std::string> last_identity() {
    std::lock_guard lock(mu_);
    return identity_;
  }

  grpc::Status GetBacklogSummary(grpc::ServerContext* context, const v1::GetBacklogSummaryRequest*,
                                 v1::BacklogSummary* response) override {
    if (grpc::Status s = Begin(context); !s.ok()) return s;
    std::map<int, int64_t> by_risk;
    for (const v1::Obligation& o : overdue_) ++by_risk[o.risk_level()];
    for (const auto& [risk, count] : by_risk) {
      v1::BacklogRow* row = response->add_rows();
      row->set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
      row->set_risk_level(static_cast<v1::RiskLevel>(risk));
      row->set_age_band(v1::AGE_BAND_8_30_DAYS);
      row->set_count(count);
    }
    response->set_total(static_cast<int64_t>(overdue_.size()));
    response->set_total_open(static_cast<int64_t>(overdue_.size()) * 3);
    if (!overdue_.empty()) *response->mutable_oldest() = overdue_.front();
    response->set_force(force_);
    return grpc::Status::OK;
  }

  grpc::Status ListBacklogItems(grpc::ServerContext* context,
                                const v1::ListBacklogItemsRequest* request,
                                v1::ListBacklogItemsResponse* response) override {
    if (grpc::Status s = Begin(context); !s.ok()) return s;
    int offset = 0;
    if (!request->page().page_token().empty() &&
        !absl::SimpleAtoi(request->page().page_token(), &offset)) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "page_token: not mine"};
    }
    const int size = request->page().page_size();
    for (int i = offset; i < static_cast<int>(overdue_.size()) && i < offset + size; ++i) {
      v1::BacklogItem* item = response->add_items();
      *item->mutable_obligation() = overdue_[i];
      item->set_subject_display_name("Name of " + overdue_[i].subject_id());
    }
    if (offset + size < static_cast<int>(overdue_.size())) {
      response->set_next_page_token(absl::StrCat(offset + size));
    }
    return grpc::Status::OK;
  }

  grpc::Status GetWorkload(grpc::ServerContext* context, const v1::GetWorkloadRequest*,
                           v1::GetWorkloadResponse* response) override {
    if (grpc::Status s = Begin(context); !s.ok()) return s;
    for (const v1::Obligation& o : overdue_) {
      v1::OfficerWorkload* w = response->add_officers();
      w->set_officer(o.owner_officer());
      w->set_team(o.team());
      w->set_open(2);
      w->set_overdue(1);
      w->set_weighted_load(1.5);
      w->set_capacity_used_percent(10);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetBacklogTrend(grpc::ServerContext* context, const v1::GetBacklogTrendRequest*,
                               v1::GetBacklogTrendResponse* response) override {
    if (grpc::Status s = Begin(context); !s.ok()) return s;
    for (int day = 20; day <= 22; ++day) {
      v1::TrendPoint* p = response->add_points();
      p->set_date(absl::StrCat("2026-11-", day));
      p->set_total_overdue(static_cast<int64_t>(overdue_.size()) + (22 - day));
      p->set_total_open(10);
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Begin(grpc::ServerContext* context) {
    {
      std::lock_guard lock(mu_);
      identity_.clear();
      for (const auto& [key, value] : context->client_metadata()) {
        identity_[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
      }
    }
    const absl::Time until = absl::Now() + delay_;
    while (absl::Now() < until && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return error_;
  }

  const std::string force_;
  std::vector<v1::Obligation> overdue_;
  std::atomic<absl::Duration> delay_{absl::ZeroDuration()};
  grpc::Status error_ = grpc::Status::OK;
  std::mutex mu_;
  std::map<std::string, std::string> identity_;
};

v1::Obligation Overdue(const std::string& force, const std::string& id, int days_overdue,
                       v1::RiskLevel risk = v1::RISK_LEVEL_HIGH) {
  v1::Obligation o;
  o.set_id(id);
  o.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  o.set_subject_id("RSO-" + id);
  o.set_risk_level(risk);
  *o.mutable_due_time() = ToProtoTime(kNow - absl::Hours(24 * days_overdue));
  o.set_owner_officer("DC " + id);
  o.set_team("MOSOVO " + force);
  o.set_force(force);
  o.set_reason("visit of " + id + " due");
  return o;
}

class NationalBacklogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.path = dir_.Sub("data");
    VIGIL_ASSERT_OK_AND_ASSIGN(store_, storage::Store::Open(options));
    AddShard("wessex", {Overdue("wessex", "w1", 40), Overdue("wessex", "w2", 10),
                        Overdue("wessex", "w3", 3)});
    AddShard("mercia", {Overdue("mercia", "m1", 50), Overdue("mercia", "m2", 20)});
    AddShard("northumbria", {Overdue("northumbria", "n1", 30), Overdue("northumbria", "n2", 15),
                             Overdue("northumbria", "n3", 5), Overdue("northumbria", "n4", 1)});
    Connect(absl::Milliseconds(300));
  }

  void TearDown() override {
    national_.reset();
    set_.reset();
    for (auto& server : servers_) server->Shutdown(std::chrono::system_clock::now());
    if (store_ != nullptr) {
      VIGIL_EXPECT_OK(store_->Close());
    }
  }

  void AddShard(const std::string& force, std::vector<v1::Obligation> overdue) {
    fakes_[force] = std::make_unique<FakeShard>(force, std::move(overdue));
    grpc::ServerBuilder builder;
    builder.RegisterService(fakes_[force].get());
    servers_.push_back(builder.BuildAndStart());
    channels_[force] = servers_.back()->InProcessChannel(grpc::ChannelArguments());
  }

  void Connect(absl::Duration deadline) {
    national_.reset();
    std::vector<Shard> shards;
    for (const auto& [force, channel] : channels_) shards.push_back({force, channel, Hop::kRemote});
    set_ = std::make_unique<ShardSet>(std::move(shards), deadline);
    national_ = std::make_unique<NationalBacklog>(*store_, *set_);
  }

  CallContext Inspector() const {
    CallContext call;
    call.principal = Principal("HMI Ward", Role::kHmicfrsInspector, "hmicfrs");
    call.purpose = "PEEL inspection 2026";
    call.method = "vigil.v1.BacklogService/GetBacklogSummary";
    call.now = kNow;
    return call;
  }

  // Every item of the national listing, page by page.
  std::vector<v1::BacklogItem> AllItems(int page_size,
                                        std::vector<std::string>* missing = nullptr) {
    std::vector<v1::BacklogItem> all;
    v1::ListBacklogItemsRequest request;
    request.mutable_page()->set_page_size(page_size);
    for (int pages = 0; pages < 100; ++pages) {
      absl::StatusOr<v1::ListBacklogItemsResponse> page = national_->Items(Inspector(), request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->items_size(), page_size);
      for (const v1::BacklogItem& item : page->items()) all.push_back(item);
      if (missing != nullptr)
        missing->assign(page->missing_forces().begin(), page->missing_forces().end());
      if (page->next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page->next_page_token());
    }
    return all;
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::map<std::string, std::unique_ptr<FakeShard>> fakes_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::unique_ptr<ShardSet> set_;
  std::unique_ptr<NationalBacklog> national_;
};

TEST_F(NationalBacklogTest, SummaryIsTheSumOfEveryForceAndNamesEach) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary summary,
                             national_->Summary(Inspector(), v1::GetBacklogSummaryRequest()));
  EXPECT_EQ(summary.total(), 3 + 2 + 4);
  EXPECT_EQ(summary.total_open(), 3 * (3 + 2 + 4));
  EXPECT_FALSE(summary.partial());
  EXPECT_THAT(summary.missing_forces(), IsEmpty());
  ASSERT_EQ(summary.by_force_size(), 3);
  EXPECT_EQ(summary.by_force(0).force(), "mercia");
  EXPECT_EQ(summary.by_force(0).total(), 2);
  EXPECT_EQ(summary.by_force(1).force(), "northumbria");
  EXPECT_EQ(summary.by_force(2).force(), "wessex");
  int64_t row_sum = 0;
  for (const v1::BacklogRow& row : summary.rows()) row_sum += row.count();
  EXPECT_EQ(row_sum, summary.total());
  // The oldest nationally is mercia's, without who it is about or who owns it.
  EXPECT_EQ(summary.oldest().force(), "mercia");
  EXPECT_EQ(TimeOf(summary.oldest().due_time()), kNow - absl::Hours(24 * 50));
  EXPECT_EQ(summary.oldest().subject_id(), "");
  EXPECT_EQ(summary.oldest().id(), "");
  EXPECT_EQ(summary.oldest().owner_officer(), "");
  EXPECT_EQ(summary.oldest().reason(), "");
  EXPECT_EQ(summary.by_force(0).oldest().subject_id(), "");
}

TEST_F(NationalBacklogTest, EachShardIsAskedAsSystemOfItsForceForTheCallerWithThePurpose) {
  VIGIL_ASSERT_OK(national_->Summary(Inspector(), v1::GetBacklogSummaryRequest()).status());
  std::map<std::string, std::string> seen = fakes_["mercia"]->last_identity();
  EXPECT_EQ(seen["x-vigil-actor"], "HMI Ward (hmicfrs-inspector, national backlog)");
  EXPECT_EQ(seen["x-vigil-role"], "system");
  EXPECT_EQ(seen["x-vigil-force"], "mercia");
  EXPECT_EQ(seen["x-vigil-purpose"], "PEEL inspection 2026");
  EXPECT_EQ(seen.count("x-vigil-internal"), 0u);  // never sent off the process
}

TEST_F(NationalBacklogTest, SlowShardIsNamedMissingAndTheOthersAnswerWithinTheDeadline) {
  fakes_["mercia"]->set_delay(absl::Seconds(10));
  const absl::Time start = absl::Now();
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary summary,
                             national_->Summary(Inspector(), v1::GetBacklogSummaryRequest()));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(summary.partial());
  EXPECT_THAT(summary.missing_forces(), ElementsAre("mercia"));
  EXPECT_EQ(summary.total(), 3 + 4);
  ASSERT_EQ(summary.by_force_size(), 2);
  EXPECT_EQ(summary.oldest().force(), "wessex");  // 40 days; mercia's 50 is missing
}

TEST_F(NationalBacklogTest, FailingShardIsNamedMissing) {
  fakes_["wessex"]->set_error({grpc::StatusCode::UNAVAILABLE, "store disk full"});
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::GetBacklogTrendResponse trend,
                             national_->Trend(Inspector(), v1::GetBacklogTrendRequest()));
  EXPECT_TRUE(trend.partial());
  EXPECT_THAT(trend.missing_forces(), ElementsAre("wessex"));
  ASSERT_EQ(trend.points_size(), 3);
  // Mercia (2 overdue) and northumbria (4): 6 on the last day, 2 more each two days before.
  EXPECT_EQ(trend.points(2).date(), "2026-11-22");
  EXPECT_EQ(trend.points(2).total_overdue(), 6);
  EXPECT_EQ(trend.points(0).total_overdue(), 10);
  EXPECT_EQ(trend.change_7_days(), -4);
  ASSERT_EQ(trend.by_force_size(), 2);
  EXPECT_EQ(trend.by_force(1).force(), "northumbria");
}

TEST_F(NationalBacklogTest, NoShardAnsweringIsUnavailableNamingEach) {
  for (auto& [force, fake] : fakes_) fake->set_error({grpc::StatusCode::UNAVAILABLE, "down"});
  EXPECT_THAT(national_->Summary(Inspector(), v1::GetBacklogSummaryRequest()),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("mercia: unreachable"), HasSubstr("wessex"))));
}

TEST_F(NationalBacklogTest, RequestEveryShardRefusesIsRefused) {
  for (auto& [force, fake] : fakes_) {
    fake->set_error({grpc::StatusCode::INVALID_ARGUMENT, "kinds: unknown value 99"});
  }
  EXPECT_THAT(national_->Summary(Inspector(), v1::GetBacklogSummaryRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kinds")));
}

TEST_F(NationalBacklogTest, ItemsAreOldestFirstAcrossShardsAndPagesWithoutPersonalData) {
  for (int page_size : {1, 2, 4, 50}) {
    SCOPED_TRACE(page_size);
    std::vector<v1::BacklogItem> items = AllItems(page_size);
    std::vector<std::string> order;
    for (const v1::BacklogItem& item : items) {
      order.push_back(
          absl::StrCat(item.obligation().force(), " ",
                       absl::ToInt64Hours(kNow - TimeOf(item.obligation().due_time())) / 24));
      EXPECT_EQ(item.obligation().id(), "");
      EXPECT_EQ(item.obligation().subject_id(), "");
      EXPECT_EQ(item.obligation().owner_officer(), "");
      EXPECT_EQ(item.obligation().reason(), "");
      EXPECT_EQ(item.subject_display_name(), "");
      EXPECT_NE(item.obligation().team(), "");
    }
    EXPECT_THAT(order, ElementsAre("mercia 50", "wessex 40", "northumbria 30", "mercia 20",
                                   "northumbria 15", "wessex 10", "northumbria 5", "wessex 3",
                                   "northumbria 1"));
  }
}

TEST_F(NationalBacklogTest, ItemsOfAMissingShardStayMissingOnLaterPages) {
  fakes_["wessex"]->set_error({grpc::StatusCode::UNAVAILABLE, "down"});
  std::vector<std::string> missing;
  std::vector<v1::BacklogItem> items = AllItems(2, &missing);
  EXPECT_EQ(items.size(), 6u);
  EXPECT_THAT(missing, ElementsAre("wessex"));
}

TEST_F(NationalBacklogTest, ItemsPageTokenOfAnotherQueryIsRefused) {
  v1::ListBacklogItemsRequest request;
  request.mutable_page()->set_page_size(2);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListBacklogItemsResponse first,
                             national_->Items(Inspector(), request));
  request.set_team("MOSOVO wessex");
  request.mutable_page()->set_page_token(first.next_page_token());
  EXPECT_THAT(national_->Items(Inspector(), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_F(NationalBacklogTest, WorkloadIsByForceAndTeamWithoutOfficers) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::GetWorkloadResponse workload,
                             national_->Workload(Inspector(), v1::GetWorkloadRequest()));
  ASSERT_EQ(workload.officers_size(), 3);
  for (const v1::OfficerWorkload& team : workload.officers()) {
    EXPECT_EQ(team.officer(), "");
    EXPECT_EQ(team.team(), "MOSOVO " + team.force());
    EXPECT_DOUBLE_EQ(team.team_share_percent(), 100);
    EXPECT_DOUBLE_EQ(team.capacity_used_percent(), 10);
  }
  EXPECT_EQ(workload.officers(1).force(), "northumbria");
  EXPECT_EQ(workload.officers(1).open(), 8);
  EXPECT_DOUBLE_EQ(workload.officers(1).weighted_load(), 6);
}

TEST_F(NationalBacklogTest, EachAnswerIsAuditedUnderTheCaller) {
  const uint64_t before = store_->AuditHead();
  VIGIL_ASSERT_OK(national_->Summary(Inspector(), v1::GetBacklogSummaryRequest()).status());
  EXPECT_EQ(store_->AuditHead(), before + 1);
}

TEST(ParseShards, SortsByForceAndRefusesWhatIsNotForceEqualsAddress) {
  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<ShardAddress> shards,
                             ParseShards("wessex=vigild-wessex:7420, mercia=10.0.0.2:7420"));
  EXPECT_THAT(shards, ElementsAre(ShardAddress{"mercia", "10.0.0.2:7420"},
                                  ShardAddress{"wessex", "vigild-wessex:7420"}));
  EXPECT_THAT(ParseShards(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--shards")));
  EXPECT_THAT(ParseShards("wessex"), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("'wessex' is not FORCE=ADDRESS")));
  EXPECT_THAT(ParseShards("Wessex=a:1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseShards("wessex=a:1,wessex=b:2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("given twice")));
}

}  // namespace
}  // namespace vigil::national
