// JSON Web Tokens as vigild accepts them (docs/security.md, "Tokens"): compact JWS signed with
// RS256 or ES256 by a key from a JWKS, with iss, aud, exp and nbf checked.
//
// Verification refuses, with UNAUTHENTICATED and a message starting "token: " that names the
// failed check and never echoes the token:
//   too large; not three base64url parts; a header or payload that is not a JSON object;
//   `crit` header parameters; an `alg` other than RS256 and ES256 (none and HS* included); a
//   `kid` not in the JWKS (or no `kid` when the JWKS has several keys); a key whose type does
//   not match the alg, whose `alg` differs, or whose `use` is not "sig"; a bad signature; an
//   `iss` other than the issuer; an `aud` without the audience; no numeric `exp`; expiry and
//   `nbf`, each with the leeway.
// Each refusal also carries a short stable reason (JwtFailure) for metrics.
#ifndef VIGIL_BASE_CRYPTO_JWT_H_
#define VIGIL_BASE_CRYPTO_JWT_H_

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/crypto/keys.h"
#include "google/protobuf/struct.pb.h"

namespace vigil::crypto {

// Base64url without padding (RFC 7515 section 2).
std::string Base64UrlEncode(absl::string_view bytes);
// Strict: only [A-Za-z0-9_-], no padding, no whitespace, unused trailing bits zero, so each
// byte string has exactly one encoding. nullopt otherwise.
std::optional<std::string> Base64UrlDecode(absl::string_view text);

// Why a token was refused. The names (JwtFailureName) are stable: metrics label by them.
enum class JwtFailure {
  kTooLarge,      // "too_large": over max_token_bytes
  kMalformed,     // "malformed": not base64url JWS of JSON objects, or unsupported `crit`
  kAlgRefused,    // "alg_refused": alg not RS256 or ES256
  kUnknownKid,    // "unknown_kid": no key in the JWKS for the token
  kKeyMismatch,   // "key_mismatch": the key's type, alg or use does not fit the token
  kBadSignature,  // "bad_signature"
  kBadIssuer,     // "bad_issuer": iss missing or not the issuer
  kBadAudience,   // "bad_audience": aud missing or without the audience
  kMissingClaim,  // "missing_claim": exp missing or not a number; also for callers' claims
  kExpired,       // "expired"
  kNotYetValid,   // "not_yet_valid": before nbf
  kClaimRefused,  // "claim_refused": for callers: a claim the token may not carry
};

absl::string_view JwtFailureName(JwtFailure failure);

// UNAUTHENTICATED "token: <detail>" carrying `failure`. JwtVerifier uses it for every
// refusal; callers checking further claims (the identity claims) use it too, so that one
// counter covers every refused token.
absl::Status JwtError(JwtFailure failure, absl::string_view detail);

// The failure `status` carries, or nullopt when it carries none (OK, or not from JwtError).
std::optional<JwtFailure> JwtFailureOf(const absl::Status& status);
// JwtFailureName of the failure `status` carries; "" when none.
absl::string_view JwtFailureReason(const absl::Status& status);

// One public key of a JWKS.
struct Jwk {
  std::string kid;                 // "" when the JWK has none
  std::string kty;                 // "RSA" or "EC"
  std::string alg;                 // "" when the JWK has none; otherwise tokens must use this alg
  std::string use;                 // "" when the JWK has none; otherwise tokens need "sig"
  KeyType type = KeyType::kOther;  // kRsa or kEcP256
  std::shared_ptr<EVP_PKEY> key;   // the public key; never null in a parsed Jwks
};

// A JSON Web Key Set (RFC 7517) of RSA (2048 to 8192 bits, from n and e) and EC P-256 (from
// crv, x and y) public keys. Immutable, so one instance may be shared by any number of threads.
// Intentionally copyable (keys are shared, not copied).
class Jwks {
 public:
  // Parses {"keys": [...]}. InvalidArgument naming the key and field, e.g.
  //   "keys[1].n: not base64url", "keys[0].kty: 'oct' is not RSA or EC",
  //   "keys[2].crv: 'P-384' is not P-256", "keys[1].kid: 'a' is also the kid of keys[0]".
  // A document with no keys is refused. Private key members (d, p, q, ...) are refused, since
  // a JWKS that contains them was published by mistake.
  static absl::StatusOr<Jwks> Parse(absl::string_view json);

  // Parse() of the file at `path` (at most 1 MiB); errors start with the path.
  static absl::StatusOr<Jwks> ReadFile(const std::string& path);

  const std::vector<Jwk>& keys() const { return keys_; }

  // The key with this kid, or nullptr.
  const Jwk* Find(absl::string_view kid) const;

 private:
  std::vector<Jwk> keys_;
};

struct JwtVerifierOptions {
  // The keys tokens are signed with. Required.
  std::shared_ptr<const Jwks> jwks;
  // `iss` must equal it. Required.
  std::string issuer;
  // `aud` (a string or a list of strings) must contain it. Required.
  std::string audience;
  // Allowed clock difference for exp and nbf. Default: 60 s.
  absl::Duration leeway = absl::Seconds(60);
  // Longer tokens are refused before any parsing. Default: 8192.
  size_t max_token_bytes = 8192;
};

// What a verified token says. Copyable.
class VerifiedToken {
 public:
  VerifiedToken(google::protobuf::Struct claims, std::string kid, std::string algorithm,
                absl::Time expiry);

  // The claim `name` when it is a JSON string; nullopt when absent or of another type.
  std::optional<std::string> StringClaim(absl::string_view name) const;
  // `sub`, `iss`: "" when absent (iss never is: it was checked).
  std::string subject() const { return StringClaim("sub").value_or(""); }
  std::string issuer() const { return StringClaim("iss").value_or(""); }
  // `exp`.
  absl::Time expiry() const { return expiry_; }
  // The kid of the key that verified the signature ("" for a JWKS key without a kid).
  const std::string& kid() const { return kid_; }
  // "RS256" or "ES256".
  const std::string& algorithm() const { return algorithm_; }
  // Every claim of the payload.
  const google::protobuf::Struct& claims() const { return claims_; }

 private:
  google::protobuf::Struct claims_;
  std::string kid_;
  std::string algorithm_;
  absl::Time expiry_;
};

// Verifies bearer tokens against a JWKS that can be replaced while tokens are being verified
// (vigild's SIGHUP reload). Thread-safe.
class JwtVerifier {
 public:
  // InvalidArgument when jwks is null or issuer or audience is empty (naming the option), or
  // the leeway is negative.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(JwtVerifierOptions options);

  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // The token's claims when every check in this file's opening comment passes at `now`;
  // otherwise UNAUTHENTICATED from JwtError, e.g. "token: expired at 2026-12-01T10:00:00Z".
  absl::StatusOr<VerifiedToken> Verify(absl::string_view token, absl::Time now) const;

  // Verifies every later token with `jwks`; calls already verifying finish with the old set.
  // A null `jwks` is ignored.
  void ReplaceKeys(std::shared_ptr<const Jwks> jwks);

  // The keys in use.
  std::shared_ptr<const Jwks> keys() const;

 private:
  // A token whose signature, issuer and audience were checked: only its times remain to check.
  struct Verified {
    VerifiedToken token;
    std::optional<absl::Time> not_before;
  };
  // At most this many verified tokens are remembered; when full, the memory starts afresh.
  static constexpr size_t kMaxVerifiedTokens = 4096;

  explicit JwtVerifier(JwtVerifierOptions options);

  // Every check but the times, with `jwks`.
  absl::StatusOr<Verified> VerifyWithKeys(absl::string_view token, const Jwks& jwks) const;
  // exp and nbf at `now`, with the leeway.
  absl::Status CheckTimes(const Verified& verified, absl::Time now) const;

  const std::string issuer_;
  const std::string audience_;
  const absl::Duration leeway_;
  const size_t max_token_bytes_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Jwks> jwks_ ABSL_GUARDED_BY(mu_);
  // Tokens verified with jwks_, by their exact bytes, so that a caller's token costs one
  // signature check and two JSON parses per lifetime rather than per call (the same bytes
  // always verify the same way); exp and nbf are still checked on every use. Emptied when the
  // keys are replaced, so a key removed from the JWKS stops its tokens at once.
  mutable absl::flat_hash_map<std::string, Verified> verified_ ABSL_GUARDED_BY(mu_);
};

// Signs tokens: for tests and `vigil token dev`, never used by vigild. Copyable (the key is
// shared); thread-safe.
class JwtSigner {
 public:
  // The algorithm follows the key: RSA (at least 2048 bits) signs RS256, EC P-256 ES256.
  // InvalidArgument for other keys or a PEM that is not an unencrypted private key.
  static absl::StatusOr<JwtSigner> FromPem(absl::string_view private_key_pem, std::string kid);
  static absl::StatusOr<JwtSigner> FromKey(std::shared_ptr<EVP_PKEY> key, std::string kid);

  // A compact JWS of `claims` with header {"alg", "typ": "JWT", "kid"} ("kid" left out when
  // empty).
  absl::StatusOr<std::string> Sign(const google::protobuf::Struct& claims) const;

  // Signs `header_json` and `payload_json` exactly as given, with this signer's key and
  // algorithm whatever the header says: for tests that need a header Sign would not write.
  absl::StatusOr<std::string> SignRaw(absl::string_view header_json,
                                      absl::string_view payload_json) const;

  const std::string& algorithm() const { return algorithm_; }
  const std::string& kid() const { return kid_; }

 private:
  JwtSigner(std::shared_ptr<EVP_PKEY> key, std::string algorithm, std::string kid)
      : key_(std::move(key)), algorithm_(std::move(algorithm)), kid_(std::move(kid)) {}

  std::shared_ptr<EVP_PKEY> key_;
  std::string algorithm_;
  std::string kid_;
};

// For tests forging tokens: base64url(header_json) "." base64url(payload_json) "."
// base64url(signature), with no checks at all.
std::string EncodeUnsignedJwt(absl::string_view header_json, absl::string_view payload_json,
                              absl::string_view signature = "");

// The RFC 7638 thumbprint of `key`'s public half: base64url(SHA-256 of the canonical JWK
// members). InvalidArgument for keys other than RSA and EC P-256.
absl::StatusOr<std::string> JwkThumbprint(const EVP_PKEY& key);

// A JWKS document holding `key`'s public half with `kid`, "use": "sig" and its alg:
//   {"keys":[{"kty":"EC","crv":"P-256","x":"...","y":"...","kid":"...","use":"sig",
//   "alg":"ES256"}]}
// InvalidArgument for keys other than RSA and EC P-256.
absl::StatusOr<std::string> PublicJwksJson(const EVP_PKEY& key, absl::string_view kid);

}  // namespace vigil::crypto

#endif  // VIGIL_BASE_CRYPTO_JWT_H_
