// Normalising subject identifiers so that two referrals about the same account, device, email
// or phone match whatever their spelling. Every function is pure and total: bad input gives
// InvalidArgument naming `field`, never a crash (the normaliser is fuzzed).
#ifndef VIGIL_SERVICES_OCAIT_IDENTIFIERS_H_
#define VIGIL_SERVICES_OCAIT_IDENTIFIERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vigil/v1/ocait.pb.h"

namespace vigil::ocait {

// The normal form of `value` as an identifier of `type`:
//   EMAIL       lower case, surrounding space removed; one '@' with text on both sides and a
//               dot in the domain.            " Alice@Example.ORG " -> "alice@example.org"
//   PHONE       digits only; a UK number given internationally (+44, 0044) in national form;
//               other international numbers keep a leading '+'; 7-15 digits.
//                                             "+44 (0)7700 900123" -> "07700900123"
//   ACCOUNT     lower case; "platform:handle" keeps the platform; a leading '@' is dropped.
//                                             "Snapchat: @Kid_99" -> "snapchat:kid_99"
//   DEVICE      upper case without spaces, '-', ':' or '.'; 15 digits must pass the IMEI
//               check digit.                  "35-209900-176148-1" -> "352099001761481"
//   IP_ADDRESS  the canonical text of an IPv4 or IPv6 address.
absl::StatusOr<std::string> NormalizeIdentifier(v1::IdentifierType type, absl::string_view value,
                                                absl::string_view field);

// True when `digits` (15 of them) pass the Luhn check an IMEI carries.
bool ValidImei(absl::string_view digits);

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_IDENTIFIERS_H_
