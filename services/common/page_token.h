// Opaque page tokens. A token binds a cursor to the query that produced it (the caller's
// force and every filter), so a token replayed against another query is refused:
//
//   token := base64url( format:uint8 (= 1) | query_fingerprint:fixed64 | cursor )
//
// where query_fingerprint is the first 8 bytes of SHA-256 over the query's canonical text.
#ifndef VIGIL_SERVICES_COMMON_PAGE_TOKEN_H_
#define VIGIL_SERVICES_COMMON_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

// `query` is any canonical text of the query (filters joined); `cursor` is where the next
// page starts, opaque to the client.
std::string EncodePageToken(absl::string_view query, absl::string_view cursor);

// Returns the cursor. An empty token is the first page (empty cursor). INVALID_ARGUMENT
// naming page_token when the token is malformed or belongs to another query.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view query);

// The page size to use for a request's page_size: the default when 0, capped at the maximum;
// INVALID_ARGUMENT naming page.page_size when negative.
absl::StatusOr<int> EffectivePageSize(int requested, int default_size = 50, int max_size = 1000);

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_PAGE_TOKEN_H_
