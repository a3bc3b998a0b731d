#include "services/obligations/record_store.h"

#include <cstdint>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace vigil {

std::optional<std::string> WithoutField(absl::string_view raw, int number) {
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
    if (field != number) {
      kept.append(raw.data() + start, static_cast<size_t>(in.CurrentPosition() - start));
    }
  }
}

}  // namespace vigil
