// The error a client sees for a bad request field: InvalidArgument "field: problem", e.g.
// "visit_time: 2031-01-03 is in the future". One home, below every layer that validates input.
#ifndef VIGIL_BASE_FIELD_ERROR_H_
#define VIGIL_BASE_FIELD_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vigil {

// InvalidArgument "field: problem", naming the request field at fault.
inline absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

}  // namespace vigil

#endif  // VIGIL_BASE_FIELD_ERROR_H_
