// X.509 certificates for vigil's transport and identity (docs/security.md, "Certificates"): a
// local CA, server certificates and client certificates that carry an identity in their
// subject, all EC P-256 with SHA-256 signatures, random 128-bit serial numbers and a validity
// starting five minutes in the past (clock skew between machines).
//
// A client certificate's subject carries the identity:
//   CN (2.5.4.3) actor | O (2.5.4.10) force | OU (2.5.4.11) team, optional |
//   role (2.5.4.72) role | title (2.5.4.12) rank, optional
// All functions are thread-safe.
#ifndef VIGIL_BASE_CRYPTO_X509_H_
#define VIGIL_BASE_CRYPTO_X509_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil::crypto {

// The lifetimes docs/security.md gives, in days of 86400 seconds.
inline constexpr int kCaLifetimeDays = 3650;     // 10 years
inline constexpr int kServerLifetimeDays = 730;  // 2 years
inline constexpr int kClientLifetimeDays = 365;  // 1 year

// The identity parts a client certificate carries; empty team and rank are absent.
struct CertificateIdentity {
  std::string actor;  // CN
  std::string force;  // O
  std::string team;   // OU
  std::string role;   // role
  std::string rank;   // title

  friend bool operator==(const CertificateIdentity&, const CertificateIdentity&) = default;
};

// The longest actor a certificate's CN can carry (X.509's ub-common-name); an actor in a
// token may be up to kMaxActorChars, as the server accepts.
inline constexpr size_t kMaxCertificateActorChars = 64;
inline constexpr size_t kMaxActorChars = 128;

// Checks an identity before it is written into a certificate or a development token.
// InvalidArgument naming the part:
//   actor: 1-max_actor_chars printable ASCII characters;
//   force: 1-64 of [a-z0-9_-];  team: 0-64 printable ASCII characters;
//   role: officer, supervisor, force-admin, auditor, system or service;
//   rank: empty, or officer, sergeant, inspector or superintendent.
absl::Status ValidateCertificateIdentity(const CertificateIdentity& identity,
                                         size_t max_actor_chars = kMaxCertificateActorChars);

// A certificate with its private key, both PEM (the key unencrypted PKCS#8).
struct CertifiedKey {
  std::string certificate_pem;
  std::string private_key_pem;
};

// A self-signed CA with subject CN=`name`: basicConstraints CA:TRUE (critical), keyUsage
// keyCertSign and cRLSign (critical), subject key identifier. Valid from `now` - 5 min for
// `lifetime_days`. InvalidArgument for an empty name or lifetime_days < 1.
absl::StatusOr<CertifiedKey> CreateCa(absl::string_view name, absl::Time now,
                                      int lifetime_days = kCaLifetimeDays);

// A server certificate signed by `ca`: CN = hosts[0], a subjectAltName per host (IP for IPv4
// and IPv6 addresses, DNS otherwise; "*.example.org" allowed), extendedKeyUsage serverAuth,
// keyUsage digitalSignature, basicConstraints CA:FALSE, subject and authority key identifiers.
// InvalidArgument: no hosts, a host that is not a DNS name or IP address (named), or a CA whose
// key does not match its certificate.
absl::StatusOr<CertifiedKey> CreateServerCertificate(const CertifiedKey& ca,
                                                     const std::vector<std::string>& hosts,
                                                     absl::Time now,
                                                     int lifetime_days = kServerLifetimeDays);

// A client certificate signed by `ca` carrying `identity` (checked by
// ValidateCertificateIdentity), extendedKeyUsage clientAuth, otherwise as a server certificate
// without subjectAltName.
absl::StatusOr<CertifiedKey> CreateClientCertificate(const CertifiedKey& ca,
                                                     const CertificateIdentity& identity,
                                                     absl::Time now,
                                                     int lifetime_days = kClientLifetimeDays);

// The identity in the subject of the first certificate in `pem`. Reads each attribute as a
// UTF8String or PrintableString and does not check the values against the role and rank names
// (the authenticator does). Unauthenticated naming the attribute when CN, O or role is missing,
// when an attribute appears twice, is of another string type, or holds a control character
// (NUL included); Unauthenticated when `pem` holds no certificate. Does not verify the
// certificate: TLS did, or must.
absl::StatusOr<CertificateIdentity> ParseCertificateIdentity(absl::string_view pem);

// OK when `key_pem`'s public key is the one in `cert_pem`. InvalidArgument otherwise, or when
// either does not parse: "the key does not match the certificate".
absl::Status CheckKeyMatchesCertificate(absl::string_view key_pem, absl::string_view cert_pem);

// What `vigil certs list` shows of a certificate.
struct CertificateSummary {
  std::string subject;             // RFC 2253, e.g. "role=officer,CN=DC 100,O=wessex"
  std::string issuer;              // RFC 2253
  std::vector<std::string> hosts;  // subjectAltName DNS names and IP addresses
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
  bool server_auth = false;  // extendedKeyUsage serverAuth
  bool client_auth = false;  // extendedKeyUsage clientAuth
};

// InvalidArgument when `pem` holds no certificate.
absl::StatusOr<CertificateSummary> SummarizeCertificate(absl::string_view pem);

}  // namespace vigil::crypto

#endif  // VIGIL_BASE_CRYPTO_X509_H_
