#include "base/crypto/x509.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstring>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/crypto/keys.h"
#include "base/status_macros.h"

namespace vigil::crypto {
namespace {

using X509Ptr = std::unique_ptr<X509, OpenSslFree<&X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslFree<&X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslFree<&X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<&BN_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<&GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslFree<&GENERAL_NAME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslFree<&ASN1_STRING_free>>;

constexpr size_t kMaxAttributeChars = 64;  // ub-common-name and friends, RFC 5280 appendix A
constexpr absl::Duration kBackdate = absl::Minutes(5);

// As services/common/auth.cc's role names (crypto may not depend on it).
constexpr std::array<absl::string_view, 8> kRoles = {
    "officer", "supervisor", "force-admin",      "auditor",
    "system",  "service",    "national-auditor", "hmicfrs-inspector"};
constexpr std::array<absl::string_view, 4> kRanks = {"officer", "sergeant", "inspector",
                                                     "superintendent"};

int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<X509Ptr> ReadCertificate(absl::string_view pem, absl::StatusCode code) {
  VIGIL_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (cert == nullptr) return OpenSslError(code, "certificate: not a PEM certificate");
  return cert;
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new");
  if (PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "PEM_write_bio_X509");
  }
  return MemoryBioContents(bio.get());
}

bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

template <size_t N>
bool OneOf(absl::string_view value, const std::array<absl::string_view, N>& names) {
  for (absl::string_view name : names) {
    if (value == name) return true;
  }
  return false;
}

// A DNS name as a subjectAltName may hold it: labels of letters, digits and inner hyphens,
// the first label possibly "*".
bool IsDnsName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  bool first = true;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (first && label == "*") {
      first = false;
      continue;
    }
    first = false;
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  return host != "*";
}

// The address bytes of an IPv4 or IPv6 literal, or "" when `host` is not one.
std::string IpAddressBytes(const std::string& host) {
  unsigned char bytes[16];
  if (inet_pton(AF_INET, host.c_str(), bytes) == 1) {
    return std::string(reinterpret_cast<char*>(bytes), 4);
  }
  if (inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    return std::string(reinterpret_cast<char*>(bytes), 16);
  }
  return "";
}

absl::Status AddNameEntry(X509_NAME* name, int nid, absl::string_view value) {
  if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("subject ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

// Adds extension `nid` given in OpenSSL's configuration syntax ("critical,CA:TRUE"). Only
// constant strings are passed, never user input.
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (extension == nullptr || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, absl::StrCat("extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& hosts) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return OpenSslError(absl::StatusCode::kInternal, "GENERAL_NAMES");
  for (const std::string& host : hosts) {
    const std::string ip = IpAddressBytes(host);
    const int type = ip.empty() ? GEN_DNS : GEN_IPADD;
    const std::string& value = ip.empty() ? host : ip;
    Asn1StringPtr text(ASN1_STRING_type_new(ip.empty() ? V_ASN1_IA5STRING : V_ASN1_OCTET_STRING));
    GeneralNamePtr name(GENERAL_NAME_new());
    if (text == nullptr || name == nullptr ||
        ASN1_STRING_set(text.get(), value.data(), static_cast<int>(value.size())) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "subjectAltName");
    }
    GENERAL_NAME_set0_value(name.get(), type, text.release());
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return OpenSslError(absl::StatusCode::kInternal, "subjectAltName");
    }
    name.release();  // owned by names now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "subjectAltName");
  }
  return absl::OkStatus();
}

// A random positive serial number of at most 128 bits (RFC 5280 allows up to 20 octets).
absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "RAND_bytes");
  }
  bytes[0] &= 0x7f;
  bytes[sizeof(bytes) - 1] |= 0x01;  // never zero
  BignumPtr serial(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "serial number");
  }
  return absl::OkStatus();
}

// What CreateCa and the leaf certificates share: version 3, serial, validity, subject,
// issuer, public key.
absl::StatusOr<X509Ptr> NewCertificate(X509_NAME* subject, X509_NAME* issuer, EVP_PKEY* key,
                                       absl::Time now, int lifetime_days) {
  if (lifetime_days < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("lifetime: ", lifetime_days, " days; at least 1"));
  }
  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslError(absl::StatusCode::kInternal, "X509_new");
  const absl::Time not_after = now + absl::Hours(24) * lifetime_days;
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(now - kBackdate)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after)) == nullptr ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "building the certificate");
  }
  VIGIL_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  return cert;
}

absl::StatusOr<CertifiedKey> Finish(X509* cert, EVP_PKEY* signing_key, const EVP_PKEY& key) {
  if (X509_sign(cert, signing_key, EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "X509_sign");
  }
  CertifiedKey result;
  VIGIL_ASSIGN_OR_RETURN(result.certificate_pem, CertificateToPem(cert));
  VIGIL_ASSIGN_OR_RETURN(result.private_key_pem, PrivateKeyToPem(key));
  return result;
}

struct LoadedCa {
  X509Ptr cert;
  EvpPkeyPtr key;
};

absl::StatusOr<LoadedCa> LoadCa(const CertifiedKey& ca) {
  LoadedCa loaded;
  absl::StatusOr<X509Ptr> cert =
      ReadCertificate(ca.certificate_pem, absl::StatusCode::kInvalidArgument);
  if (!cert.ok()) return absl::InvalidArgumentError("CA certificate: not a PEM certificate");
  loaded.cert = *std::move(cert);
  absl::StatusOr<EvpPkeyPtr> key = ReadPrivateKeyPem(ca.private_key_pem);
  if (!key.ok()) return absl::InvalidArgumentError("CA key: not an unencrypted PEM private key");
  loaded.key = *std::move(key);
  if (EVP_PKEY_eq(X509_get0_pubkey(loaded.cert.get()), loaded.key.get()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("CA key: does not match the CA certificate");
  }
  if ((X509_get_extension_flags(loaded.cert.get()) & EXFLAG_CA) == 0) {
    return absl::InvalidArgumentError("CA certificate: not a CA (basicConstraints CA:FALSE)");
  }
  return loaded;
}

// Issues a leaf certificate for a fresh key: `subject` and the extensions leaves share, then
// `extended_key_usage` and, for servers, the subjectAltNames.
absl::StatusOr<CertifiedKey> IssueLeaf(const CertifiedKey& ca, X509_NAME* subject,
                                       const char* extended_key_usage,
                                       const std::vector<std::string>& hosts, absl::Time now,
                                       int lifetime_days) {
  VIGIL_ASSIGN_OR_RETURN(LoadedCa loaded, LoadCa(ca));
  VIGIL_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcP256Key());
  VIGIL_ASSIGN_OR_RETURN(
      X509Ptr cert, NewCertificate(subject, X509_get_subject_name(loaded.cert.get()), key.get(),
                                   now, lifetime_days));
  X509* c = cert.get();
  X509* issuer = loaded.cert.get();
  VIGIL_RETURN_IF_ERROR(AddExtension(c, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, issuer, NID_key_usage, "critical,digitalSignature"));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, issuer, NID_ext_key_usage, extended_key_usage));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, issuer, NID_subject_key_identifier, "hash"));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, issuer, NID_authority_key_identifier, "keyid:always"));
  if (!hosts.empty()) VIGIL_RETURN_IF_ERROR(AddSubjectAltNames(c, hosts));
  return Finish(c, loaded.key.get(), *key);
}

// The single value of attribute `nid` in `name`; "" when absent. Unauthenticated when it
// appears twice, is not a UTF8String or PrintableString, is not UTF-8, or holds a control
// character.
absl::StatusOr<std::string> SubjectAttribute(X509_NAME* name, int nid, absl::string_view part) {
  const std::string label = absl::StrCat(OBJ_nid2sn(nid), " (", part, ")");
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return std::string();
  if (X509_NAME_get_index_by_NID(name, nid, index) >= 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate: the subject has more than one ", label));
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  if (data == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat("certificate: ", label, " has no value"));
  }
  const int type = ASN1_STRING_type(data);
  if (type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate: ", label, " is a ", ASN1_tag2str(type),
                     "; a UTF8String or PrintableString is required"));
  }
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    ClearOpenSslErrors();
    return absl::UnauthenticatedError(absl::StrCat("certificate: ", label, " is not UTF-8"));
  }
  std::string value(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::UnauthenticatedError(
          absl::StrCat("certificate: ", label, " holds a control character"));
    }
  }
  return value;
}

absl::StatusOr<absl::Time> Asn1Time(const ASN1_TIME* time) {
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "certificate: bad validity time");
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

}  // namespace

absl::Status ValidateCertificateIdentity(const CertificateIdentity& identity,
                                         size_t max_actor_chars) {
  if (identity.actor.empty() || identity.actor.size() > max_actor_chars ||
      !IsPrintableAscii(identity.actor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("actor: 1-", max_actor_chars, " printable ASCII characters, e.g. 'DC 4512'"));
  }
  bool force_ok = !identity.force.empty() && identity.force.size() <= 64;
  for (char c : identity.force) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      force_ok = false;
    }
  }
  if (!force_ok) {
    return absl::InvalidArgumentError("force: 1-64 of a-z, 0-9, '_' and '-', e.g. 'wessex'");
  }
  if (identity.team.size() > kMaxAttributeChars || !IsPrintableAscii(identity.team)) {
    return absl::InvalidArgumentError(
        absl::StrCat("team: at most ", kMaxAttributeChars, " printable ASCII characters"));
  }
  if (!OneOf(identity.role, kRoles)) {
    return absl::InvalidArgumentError(absl::StrCat("role: '", absl::CHexEscape(identity.role),
                                                   "' is not one of ",
                                                   absl::StrJoin(kRoles, ", ")));
  }
  if (!identity.rank.empty() && !OneOf(identity.rank, kRanks)) {
    return absl::InvalidArgumentError(absl::StrCat("rank: '", absl::CHexEscape(identity.rank),
                                                   "' is not one of ",
                                                   absl::StrJoin(kRanks, ", ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<CertifiedKey> CreateCa(absl::string_view name, absl::Time now, int lifetime_days) {
  if (name.empty() || name.size() > kMaxAttributeChars || !IsPrintableAscii(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA name: 1-", kMaxAttributeChars, " printable ASCII characters"));
  }
  VIGIL_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcP256Key());
  X509NamePtr subject(X509_NAME_new());
  if (subject == nullptr) return OpenSslError(absl::StatusCode::kInternal, "X509_NAME_new");
  VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_commonName, name));
  VIGIL_ASSIGN_OR_RETURN(
      X509Ptr cert, NewCertificate(subject.get(), subject.get(), key.get(), now, lifetime_days));
  X509* c = cert.get();
  VIGIL_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  VIGIL_RETURN_IF_ERROR(AddExtension(c, c, NID_authority_key_identifier, "keyid:always"));
  return Finish(c, key.get(), *key);
}

absl::StatusOr<CertifiedKey> CreateServerCertificate(const CertifiedKey& ca,
                                                     const std::vector<std::string>& hosts,
                                                     absl::Time now, int lifetime_days) {
  if (hosts.empty()) return absl::InvalidArgumentError("host: at least one is required");
  for (const std::string& host : hosts) {
    if (IpAddressBytes(host).empty() && !IsDnsName(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("host: '", absl::CHexEscape(host), "' is not a DNS name or an IP address"));
    }
  }
  if (hosts.front().size() > kMaxAttributeChars) {
    return absl::InvalidArgumentError(absl::StrCat("host: the first host becomes the CN, which ",
                                                   "holds at most ", kMaxAttributeChars,
                                                   " characters; give a shorter one first"));
  }
  X509NamePtr subject(X509_NAME_new());
  if (subject == nullptr) return OpenSslError(absl::StatusCode::kInternal, "X509_NAME_new");
  VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_commonName, hosts.front()));
  return IssueLeaf(ca, subject.get(), "serverAuth", hosts, now, lifetime_days);
}

absl::StatusOr<CertifiedKey> CreateClientCertificate(const CertifiedKey& ca,
                                                     const CertificateIdentity& identity,
                                                     absl::Time now, int lifetime_days) {
  VIGIL_RETURN_IF_ERROR(ValidateCertificateIdentity(identity));
  X509NamePtr subject(X509_NAME_new());
  if (subject == nullptr) return OpenSslError(absl::StatusCode::kInternal, "X509_NAME_new");
  VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_commonName, identity.actor));
  VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_organizationName, identity.force));
  if (!identity.team.empty()) {
    VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_organizationalUnitName, identity.team));
  }
  VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_role, identity.role));
  if (!identity.rank.empty()) {
    VIGIL_RETURN_IF_ERROR(AddNameEntry(subject.get(), NID_title, identity.rank));
  }
  return IssueLeaf(ca, subject.get(), "clientAuth", {}, now, lifetime_days);
}

absl::StatusOr<CertificateIdentity> ParseCertificateIdentity(absl::string_view pem) {
  VIGIL_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(pem, absl::StatusCode::kUnauthenticated));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (subject == nullptr) return absl::UnauthenticatedError("certificate: no subject");
  CertificateIdentity identity;
  struct Part {
    int nid;
    absl::string_view name;
    std::string* value;
    bool required;
  };
  for (const Part& part : {Part{NID_commonName, "actor", &identity.actor, true},
                           Part{NID_organizationName, "force", &identity.force, true},
                           Part{NID_organizationalUnitName, "team", &identity.team, false},
                           Part{NID_role, "role", &identity.role, true},
                           Part{NID_title, "rank", &identity.rank, false}}) {
    VIGIL_ASSIGN_OR_RETURN(*part.value, SubjectAttribute(subject, part.nid, part.name));
    if (part.value->empty() && part.required) {
      return absl::UnauthenticatedError(absl::StrCat("certificate: the subject has no ",
                                                     OBJ_nid2sn(part.nid), " (", part.name, ")"));
    }
  }
  return identity;
}

absl::Status CheckKeyMatchesCertificate(absl::string_view key_pem, absl::string_view cert_pem) {
  absl::StatusOr<EvpPkeyPtr> key = ReadPrivateKeyPem(key_pem);
  if (!key.ok()) return absl::InvalidArgumentError("key: not an unencrypted PEM private key");
  absl::StatusOr<X509Ptr> cert = ReadCertificate(cert_pem, absl::StatusCode::kInvalidArgument);
  if (!cert.ok()) return cert.status();
  if (EVP_PKEY_eq(X509_get0_pubkey(cert->get()), key->get()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("the key does not match the certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<CertificateSummary> SummarizeCertificate(absl::string_view pem) {
  VIGIL_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(pem, absl::StatusCode::kInvalidArgument));
  CertificateSummary summary;
  // RFC 2253, but UTF-8 left as it is rather than escaped byte by byte.
  const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  for (const auto& [name, out] : {std::pair{X509_get_subject_name(cert.get()), &summary.subject},
                                  std::pair{X509_get_issuer_name(cert.get()), &summary.issuer}}) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (bio == nullptr || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) {
      return OpenSslError(absl::StatusCode::kInternal, "X509_NAME_print_ex");
    }
    VIGIL_ASSIGN_OR_RETURN(*out, MemoryBioContents(bio.get()));
  }
  VIGIL_ASSIGN_OR_RETURN(summary.not_before, Asn1Time(X509_get0_notBefore(cert.get())));
  VIGIL_ASSIGN_OR_RETURN(summary.not_after, Asn1Time(X509_get0_notAfter(cert.get())));
  const uint32_t extension_flags = X509_get_extension_flags(cert.get());
  summary.is_ca = (extension_flags & EXFLAG_CA) != 0;
  if ((extension_flags & EXFLAG_XKUSAGE) != 0) {
    const uint32_t usage = X509_get_extended_key_usage(cert.get());
    summary.server_auth = (usage & XKU_SSL_SERVER) != 0;
    summary.client_auth = (usage & XKU_SSL_CLIENT) != 0;
  }
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    if (value == nullptr) continue;
    const absl::string_view bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                  static_cast<size_t>(ASN1_STRING_length(value)));
    if (type == GEN_DNS) {
      summary.hosts.push_back(absl::CHexEscape(bytes));
    } else if (type == GEN_IPADD && (bytes.size() == 4 || bytes.size() == 16)) {
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(bytes.size() == 4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof(text))) {
        summary.hosts.emplace_back(text);
      }
    }
  }
  ClearOpenSslErrors();
  return summary;
}

}  // namespace vigil::crypto
