// Fuzzes what clients control before they are authenticated: identity metadata, listen
// addresses, page tokens.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "services/common/auth.h"
#include "services/common/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  // Split into three header values at the first two '|' characters.
  const size_t a = input.find('|');
  const size_t b = a == absl::string_view::npos ? a : input.find('|', a + 1);
  if (b != absl::string_view::npos) {
    absl::StatusOr<vigil::Principal> p = vigil::ParseDevIdentity(
        input.substr(0, a), input.substr(a + 1, b - a - 1), input.substr(b + 1));
    if (p.ok() && (p->actor.empty() || p->force.empty())) __builtin_trap();
  }
  (void)vigil::IsLoopbackAddress(input);
  (void)vigil::DecodePageToken(input, "query");
  if (absl::StatusOr<std::string> cursor =
          vigil::DecodePageToken(vigil::EncodePageToken("q", input), "q");
      !cursor.ok() || *cursor != input) {
    __builtin_trap();
  }
  return 0;
}
