#include "services/obligations/record_store.h"

#include <algorithm>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace vigil {

namespace {

// `raw` with only the top-level fields `keep` accepts (their bytes as they are); nullopt when
// `raw` is not well-formed wire format.
std::optional<std::string> FilterFields(absl::string_view raw, absl::FunctionRef<bool(int)> keep) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(raw.data()),
                                            static_cast<int>(raw.size()));
  std::string kept;
  kept.reserve(raw.size());
  for (;;) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    // Zero: the end of `raw`, or a malformed tag (a zero byte, a truncated varint).
    if (tag == 0) return start == static_cast<int>(raw.size()) ? std::optional(kept) : std::nullopt;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if (field == 0) return std::nullopt;
    if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
    if (keep(field))
      kept.append(raw.data() + start, static_cast<size_t>(in.CurrentPosition() - start));
  }
}

}  // namespace

std::optional<std::string> WithoutField(absl::string_view raw, int number) {
  return FilterFields(raw, [number](int field) { return field != number; });
}

std::optional<std::string> OnlyFields(absl::string_view raw, std::span<const int> numbers) {
  return FilterFields(raw, [numbers](int field) {
    return std::find(numbers.begin(), numbers.end(), field) != numbers.end();
  });
}

}  // namespace vigil
