// gzip for vigil-web's API answers, at zlib's fastest level: JSON shrinks 4-6 times for about a
// millisecond per 100 kB, where cpp-httplib's own brotli (quality 11) takes ~120 ms for 37 kB.
#ifndef VIGIL_SERVICES_WEB_GZIP_H_
#define VIGIL_SERVICES_WEB_GZIP_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil::web {

// `data` as a gzip member (RFC 1952); nullopt if zlib fails (out of memory).
std::optional<std::string> GzipFast(absl::string_view data);

}  // namespace vigil::web

#endif  // VIGIL_SERVICES_WEB_GZIP_H_
