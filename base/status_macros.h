// Propagation macros for absl::Status and absl::StatusOr, which the packaged Abseil (20220623)
// does not provide. They sit at the bottom of the dependency graph so storage and services
// share one definition.
#ifndef VIGIL_BASE_STATUS_MACROS_H_
#define VIGIL_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VIGIL_STATUS_CONCAT_INNER_(a, b) a##b
#define VIGIL_STATUS_CONCAT_(a, b) VIGIL_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define VIGIL_RETURN_IF_ERROR(expr)                                   \
  do {                                                                \
    if (::absl::Status vigil_status_ = (expr); !vigil_status_.ok()) { \
      return vigil_status_;                                           \
    }                                                                 \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from the enclosing
// function, otherwise moves the value into `lhs`, which may be a declaration:
//   VIGIL_ASSIGN_OR_RETURN(Offender offender, LoadOffender(id));
#define VIGIL_ASSIGN_OR_RETURN(lhs, rexpr) \
  VIGIL_ASSIGN_OR_RETURN_IMPL_(VIGIL_STATUS_CONCAT_(vigil_statusor_, __LINE__), lhs, rexpr)

#define VIGIL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) {                                    \
    return std::move(statusor).status();                   \
  }                                                        \
  lhs = std::move(statusor).value()

#endif  // VIGIL_BASE_STATUS_MACROS_H_
