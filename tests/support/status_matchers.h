// Test helpers for absl::Status and absl::StatusOr<T>: the packaged Abseil ships no matchers.
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("custody")));
//   VIGIL_ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options));
#ifndef VIGIL_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define VIGIL_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.ok();
}

// An OK StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status().ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace vigil::testing

#define VIGIL_ASSERT_OK(expr) ASSERT_THAT((expr), ::vigil::testing::IsOk())
#define VIGIL_EXPECT_OK(expr) EXPECT_THAT((expr), ::vigil::testing::IsOk())

#define VIGIL_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  VIGIL_ASSERT_OK_AND_ASSIGN_IMPL_(VIGIL_TEST_CONCAT_(statusor_, __LINE__), lhs, rexpr)
#define VIGIL_TEST_CONCAT_INNER_(a, b) a##b
#define VIGIL_TEST_CONCAT_(a, b) VIGIL_TEST_CONCAT_INNER_(a, b)
#define VIGIL_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  ASSERT_THAT(statusor.status(), ::vigil::testing::IsOk());    \
  lhs = std::move(statusor).value()

#endif  // VIGIL_TESTS_SUPPORT_STATUS_MATCHERS_H_
