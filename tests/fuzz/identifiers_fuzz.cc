// Fuzzes identifier normalisation: any bytes give a value or InvalidArgument, and a normal form
// is a fixed point (normalising it again changes nothing).
#include <cstddef>
#include <cstdint>
#include <string>

#include "services/ocait/identifiers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto type = static_cast<vigil::v1::IdentifierType>(data[0] % 7);
  const std::string value(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<std::string> once = vigil::ocait::NormalizeIdentifier(type, value, "f");
  if (!once.ok()) {
    if (once.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  absl::StatusOr<std::string> twice = vigil::ocait::NormalizeIdentifier(type, *once, "f");
  if (!twice.ok() || *twice != *once) __builtin_trap();
  return 0;
}
