#include "base/crypto/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace vigil::crypto {
namespace {

using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<&BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslFree<&ECDSA_SIG_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<&EVP_MD_CTX_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<&EVP_PKEY_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslFree<&OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslFree<&OSSL_PARAM_free>>;

constexpr char kFailureTypeUrl[] = "type.vigil.dev/vigil.crypto.JwtFailure";
constexpr size_t kMaxJwksBytes = size_t{1} << 20;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr size_t kP256CoordinateBytes = 32;

constexpr std::array<std::pair<JwtFailure, absl::string_view>, 12> kFailureNames = {{
    {JwtFailure::kTooLarge, "too_large"},
    {JwtFailure::kMalformed, "malformed"},
    {JwtFailure::kAlgRefused, "alg_refused"},
    {JwtFailure::kUnknownKid, "unknown_kid"},
    {JwtFailure::kKeyMismatch, "key_mismatch"},
    {JwtFailure::kBadSignature, "bad_signature"},
    {JwtFailure::kBadIssuer, "bad_issuer"},
    {JwtFailure::kBadAudience, "bad_audience"},
    {JwtFailure::kMissingClaim, "missing_claim"},
    {JwtFailure::kExpired, "expired"},
    {JwtFailure::kNotYetValid, "not_yet_valid"},
    {JwtFailure::kClaimRefused, "claim_refused"},
}};

// A value from a token or a JWKS, fit for an error message: quoted, at most 64 bytes, control
// and non-ASCII bytes escaped.
std::string Shown(absl::string_view value) {
  constexpr size_t kMax = 64;
  const bool cut = value.size() > kMax;
  return absl::StrCat("'", absl::CHexEscape(value.substr(0, kMax)), cut ? "...'" : "'");
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Parses a JSON object. nullopt for anything else (arrays, scalars, invalid JSON).
std::optional<google::protobuf::Struct> ParseJsonObject(absl::string_view json) {
  google::protobuf::Struct object;
  const google::protobuf::util::Status status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &object);
  if (!status.ok()) return std::nullopt;
  return object;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  // A Struct always prints: it holds nothing JSON cannot express.
  if (!google::protobuf::util::MessageToJsonString(message, &json).ok()) return "{}";
  return json;
}

const google::protobuf::Value* Member(const google::protobuf::Struct& object,
                                      absl::string_view name) {
  auto it = object.fields().find(std::string(name));
  return it == object.fields().end() ? nullptr : &it->second;
}

BignumPtr BignumFromBytes(absl::string_view bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

absl::StatusOr<EvpPkeyPtr> KeyFromParams(const char* type, OSSL_PARAM_BLD* builder) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(builder));
  if (params == nullptr) return OpenSslError(absl::StatusCode::kInternal, "OSSL_PARAM_BLD");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (ctx == nullptr) return OpenSslError(absl::StatusCode::kInternal, "EVP_PKEY_CTX_new");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a valid public key");
  }
  EvpPkeyPtr key(raw);
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (check == nullptr) return OpenSslError(absl::StatusCode::kInternal, "EVP_PKEY_CTX_new");
  if (EVP_PKEY_public_check(check.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a valid public key");
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> RsaKey(absl::string_view n, absl::string_view e) {
  BignumPtr bn_n = BignumFromBytes(n);
  BignumPtr bn_e = BignumFromBytes(e);
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (bn_n == nullptr || bn_e == nullptr || builder == nullptr ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "building RSA parameters");
  }
  return KeyFromParams("RSA", builder.get());
}

absl::StatusOr<EvpPkeyPtr> EcP256Key(absl::string_view x, absl::string_view y) {
  // An uncompressed SEC 1 point: 0x04 | x | y.
  const std::string point = absl::StrCat("\x04", x, y);
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (builder == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "building EC parameters");
  }
  return KeyFromParams("EC", builder.get());
}

// Reads member `name` of keys[index] as a string. nullopt when absent; InvalidArgument when
// present but not a string.
absl::StatusOr<std::optional<std::string>> JwkString(const google::protobuf::Struct& jwk,
                                                     size_t index, absl::string_view name) {
  const google::protobuf::Value* value = Member(jwk, name);
  if (value == nullptr) return std::optional<std::string>();
  if (value->kind_case() != google::protobuf::Value::kStringValue) {
    return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].", name, ": not a string"));
  }
  return std::optional<std::string>(value->string_value());
}

// Reads the required base64url member `name` of keys[index] as bytes.
absl::StatusOr<std::string> JwkBytes(const google::protobuf::Struct& jwk, size_t index,
                                     absl::string_view name) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> text, JwkString(jwk, index, name));
  if (!text.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].", name, ": missing"));
  }
  std::optional<std::string> bytes = Base64UrlDecode(*text);
  if (!bytes.has_value() || bytes->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].", name, ": not base64url"));
  }
  return *std::move(bytes);
}

absl::StatusOr<Jwk> ParseJwk(const google::protobuf::Value& value, size_t index) {
  if (value.kind_case() != google::protobuf::Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat("keys[", index, "]: not a JSON object"));
  }
  const google::protobuf::Struct& object = value.struct_value();
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (Member(object, secret) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("keys[", index, "].", secret,
                       ": a private key member; a JWKS for verifying holds public keys only"));
    }
  }
  Jwk jwk;
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> kty, JwkString(object, index, "kty"));
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> kid, JwkString(object, index, "kid"));
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> alg, JwkString(object, index, "alg"));
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> use, JwkString(object, index, "use"));
  if (!kty.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].kty: missing"));
  }
  jwk.kty = *kty;
  jwk.kid = kid.value_or("");
  jwk.alg = alg.value_or("");
  jwk.use = use.value_or("");
  EvpPkeyPtr key;
  if (jwk.kty == "RSA") {
    VIGIL_ASSIGN_OR_RETURN(std::string n, JwkBytes(object, index, "n"));
    VIGIL_ASSIGN_OR_RETURN(std::string e, JwkBytes(object, index, "e"));
    BignumPtr modulus = BignumFromBytes(n);
    if (modulus == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BN_bin2bn");
    const int bits = BN_num_bits(modulus.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].n: a ", bits,
                                                     "-bit RSA key; ", kMinRsaBits, " to ",
                                                     kMaxRsaBits, " bits are accepted"));
    }
    absl::StatusOr<EvpPkeyPtr> rsa = RsaKey(n, e);
    if (!rsa.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("keys[", index, "]: ", rsa.status().message()));
    }
    key = *std::move(rsa);
    jwk.type = KeyType::kRsa;
  } else if (jwk.kty == "EC") {
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> crv, JwkString(object, index, "crv"));
    if (!crv.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].crv: missing"));
    }
    if (*crv != "P-256") {
      return absl::InvalidArgumentError(
          absl::StrCat("keys[", index, "].crv: ", Shown(*crv), " is not P-256"));
    }
    VIGIL_ASSIGN_OR_RETURN(std::string x, JwkBytes(object, index, "x"));
    VIGIL_ASSIGN_OR_RETURN(std::string y, JwkBytes(object, index, "y"));
    for (const auto& [name, coordinate] : {std::pair{"x", &x}, std::pair{"y", &y}}) {
      if (coordinate->size() != kP256CoordinateBytes) {
        return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].", name, ": ",
                                                       coordinate->size(), " bytes, not ",
                                                       kP256CoordinateBytes));
      }
    }
    absl::StatusOr<EvpPkeyPtr> ec = EcP256Key(x, y);
    if (!ec.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("keys[", index, "]: ", ec.status().message()));
    }
    key = *std::move(ec);
    jwk.type = KeyType::kEcP256;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("keys[", index, "].kty: ", Shown(jwk.kty), " is not RSA or EC"));
  }
  jwk.key = ShareKey(std::move(key));
  return jwk;
}

// The JWS signature of `input` as JWA defines it: PKCS#1 v1.5 for RS256, raw r | s (32 bytes
// each) for ES256.
absl::StatusOr<std::string> SignWith(EVP_PKEY* key, KeyType type, absl::string_view input) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return OpenSslError(absl::StatusCode::kInternal, "EVP_MD_CTX_new");
  size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_DigestSign");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     input.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_DigestSign");
  }
  signature.resize(length);
  if (type != KeyType::kEcP256) return signature;
  const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())));
  if (sig == nullptr) return OpenSslError(absl::StatusCode::kInternal, "d2i_ECDSA_SIG");
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kP256CoordinateBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kP256CoordinateBytes, kP256CoordinateBytes) <
          0) {
    return OpenSslError(absl::StatusCode::kInternal, "BN_bn2binpad");
  }
  return raw;
}

// True when `signature` is a valid JWS signature of `input` by `key` (see SignWith).
bool VerifyWith(EVP_PKEY* key, KeyType type, absl::string_view input, absl::string_view signature) {
  std::string der;
  if (type == KeyType::kEcP256) {
    if (signature.size() != 2 * kP256CoordinateBytes) return false;
    EcdsaSigPtr sig(ECDSA_SIG_new());
    BignumPtr r = BignumFromBytes(signature.substr(0, kP256CoordinateBytes));
    BignumPtr s = BignumFromBytes(signature.substr(kP256CoordinateBytes));
    if (sig == nullptr || r == nullptr || s == nullptr ||
        ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
      ClearOpenSslErrors();
      return false;
    }
    r.release();  // owned by sig now
    s.release();
    const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (length <= 0) {
      ClearOpenSslErrors();
      return false;
    }
    der.resize(static_cast<size_t>(length));
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &out) != length) {
      ClearOpenSslErrors();
      return false;
    }
    signature = der;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  ClearOpenSslErrors();
  return ok;
}

// The algorithm a key of `type` signs with; "" for keys vigil does not use.
absl::string_view AlgorithmFor(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RS256";
    case KeyType::kEcP256:
      return "ES256";
    default:
      return "";
  }
}

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "an RSA key";
    case KeyType::kEcP256:
      return "an EC P-256 key";
    default:
      return "a key of another type";
  }
}

// A NumericDate claim (seconds since the epoch, possibly fractional) as a time; nullopt when
// it is not a number or is beyond any sensible date.
std::optional<absl::Time> NumericDate(const google::protobuf::Value& value) {
  if (value.kind_case() != google::protobuf::Value::kNumberValue) return std::nullopt;
  const double seconds = value.number_value();
  constexpr double kLimit = 1e11;  // year 5138
  if (!std::isfinite(seconds) || seconds > kLimit || seconds < -kLimit) return std::nullopt;
  return absl::FromUnixMicros(static_cast<int64_t>(std::llround(seconds * 1e6)));
}

absl::StatusOr<std::string> BignumParam(const EVP_PKEY& key, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(&key, name, &raw) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, absl::StrCat("EVP_PKEY_get_bn_param ", name));
  }
  BignumPtr bn(raw);
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string bytes(static_cast<size_t>(size), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()), size) < 0) {
    return OpenSslError(absl::StatusCode::kInternal, "BN_bn2binpad");
  }
  return bytes;
}

// The members of `key`'s public JWK that RFC 7638 hashes, base64url-encoded:
// {e, n} for RSA, {x, y} for EC P-256.
struct PublicJwkMembers {
  KeyType type;
  std::string first;   // e or x
  std::string second;  // n or y
};

absl::StatusOr<PublicJwkMembers> PublicMembers(const EVP_PKEY& key) {
  const KeyType type = KeyTypeOf(key);
  if (type == KeyType::kRsa) {
    VIGIL_ASSIGN_OR_RETURN(std::string e, BignumParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    VIGIL_ASSIGN_OR_RETURN(std::string n, BignumParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    return PublicJwkMembers{type, Base64UrlEncode(e), Base64UrlEncode(n)};
  }
  if (type == KeyType::kEcP256) {
    VIGIL_ASSIGN_OR_RETURN(std::string x,
                           BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, kP256CoordinateBytes));
    VIGIL_ASSIGN_OR_RETURN(std::string y,
                           BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, kP256CoordinateBytes));
    return PublicJwkMembers{type, Base64UrlEncode(x), Base64UrlEncode(y)};
  }
  return absl::InvalidArgumentError("key: not RSA or EC P-256");
}

}  // namespace

std::string Base64UrlEncode(absl::string_view bytes) {
  std::string text;
  absl::WebSafeBase64Escape(bytes, &text);  // no padding
  return text;
}

std::optional<std::string> Base64UrlDecode(absl::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // Leftover bits (2 or 4) must be zero, or two texts would decode to the same bytes.
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return bytes;
}

absl::string_view JwtFailureName(JwtFailure failure) {
  for (const auto& [value, name] : kFailureNames) {
    if (value == failure) return name;
  }
  return "unknown";
}

absl::Status JwtError(JwtFailure failure, absl::string_view detail) {
  absl::Status status = absl::UnauthenticatedError(absl::StrCat("token: ", detail));
  status.SetPayload(kFailureTypeUrl, absl::Cord(JwtFailureName(failure)));
  return status;
}

std::optional<JwtFailure> JwtFailureOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kFailureTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  for (const auto& [value, name] : kFailureNames) {
    if (*payload == name) return value;
  }
  return std::nullopt;
}

absl::string_view JwtFailureReason(const absl::Status& status) {
  std::optional<JwtFailure> failure = JwtFailureOf(status);
  return failure.has_value() ? JwtFailureName(*failure) : absl::string_view();
}

absl::StatusOr<Jwks> Jwks::Parse(absl::string_view json) {
  if (json.size() > kMaxJwksBytes) {
    return absl::InvalidArgumentError(absl::StrCat("JWKS: larger than ", kMaxJwksBytes, " bytes"));
  }
  std::optional<google::protobuf::Struct> document = ParseJsonObject(json);
  if (!document.has_value()) return absl::InvalidArgumentError("JWKS: not a JSON object");
  const google::protobuf::Value* keys = Member(*document, "keys");
  if (keys == nullptr) return absl::InvalidArgumentError("keys: missing");
  if (keys->kind_case() != google::protobuf::Value::kListValue) {
    return absl::InvalidArgumentError("keys: not a list");
  }
  if (keys->list_value().values().empty()) return absl::InvalidArgumentError("keys: empty");
  Jwks jwks;
  for (int i = 0; i < keys->list_value().values_size(); ++i) {
    const size_t index = static_cast<size_t>(i);
    VIGIL_ASSIGN_OR_RETURN(Jwk jwk, ParseJwk(keys->list_value().values(i), index));
    for (size_t j = 0; j < jwks.keys_.size(); ++j) {
      if (!jwk.kid.empty() && jwks.keys_[j].kid == jwk.kid) {
        return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].kid: ", Shown(jwk.kid),
                                                       " is also the kid of keys[", j, "]"));
      }
    }
    jwks.keys_.push_back(std::move(jwk));
  }
  return jwks;
}

absl::StatusOr<Jwks> Jwks::ReadFile(const std::string& path) {
  VIGIL_ASSIGN_OR_RETURN(std::string json, ReadSmallFile(path, kMaxJwksBytes));
  absl::StatusOr<Jwks> jwks = Parse(json);
  if (!jwks.ok()) {
    return absl::Status(jwks.status().code(), absl::StrCat(path, ": ", jwks.status().message()));
  }
  return jwks;
}

const Jwk* Jwks::Find(absl::string_view kid) const {
  for (const Jwk& jwk : keys_) {
    if (jwk.kid == kid) return &jwk;
  }
  return nullptr;
}

VerifiedToken::VerifiedToken(google::protobuf::Struct claims, std::string kid,
                             std::string algorithm, absl::Time expiry)
    : claims_(std::move(claims)),
      kid_(std::move(kid)),
      algorithm_(std::move(algorithm)),
      expiry_(expiry) {}

std::optional<std::string> VerifiedToken::StringClaim(absl::string_view name) const {
  const google::protobuf::Value* value = Member(claims_, name);
  if (value == nullptr || value->kind_case() != google::protobuf::Value::kStringValue) {
    return std::nullopt;
  }
  return value->string_value();
}

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(JwtVerifierOptions options) {
  if (options.jwks == nullptr) return absl::InvalidArgumentError("jwks: required");
  if (options.issuer.empty()) return absl::InvalidArgumentError("issuer: required");
  if (options.audience.empty()) return absl::InvalidArgumentError("audience: required");
  if (options.leeway < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leeway: negative");
  }
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(options)));
}

JwtVerifier::JwtVerifier(JwtVerifierOptions options)
    : issuer_(std::move(options.issuer)),
      audience_(std::move(options.audience)),
      leeway_(options.leeway),
      max_token_bytes_(options.max_token_bytes),
      jwks_(std::move(options.jwks)) {}

void JwtVerifier::ReplaceKeys(std::shared_ptr<const Jwks> jwks) {
  if (jwks == nullptr) return;
  absl::MutexLock lock(&mu_);
  jwks_ = std::move(jwks);
  verified_.clear();  // a removed key's tokens stop working at once
}

std::shared_ptr<const Jwks> JwtVerifier::keys() const {
  absl::ReaderMutexLock lock(&mu_);
  return jwks_;
}

absl::StatusOr<VerifiedToken> JwtVerifier::Verify(absl::string_view token, absl::Time now) const {
  if (token.size() > max_token_bytes_) {
    return JwtError(JwtFailure::kTooLarge,
                    absl::StrCat(token.size(), " bytes; at most ", max_token_bytes_));
  }
  std::shared_ptr<const Jwks> jwks;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = verified_.find(token); it != verified_.end()) {
      VIGIL_RETURN_IF_ERROR(CheckTimes(it->second, now));
      return it->second.token;
    }
    jwks = jwks_;
  }
  VIGIL_ASSIGN_OR_RETURN(Verified verified, VerifyWithKeys(token, *jwks));
  {
    absl::MutexLock lock(&mu_);
    // Tokens verified with keys that were replaced meanwhile are not remembered.
    if (jwks_ == jwks) {
      if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();
      verified_.emplace(token, verified);
    }
  }
  VIGIL_RETURN_IF_ERROR(CheckTimes(verified, now));
  return std::move(verified.token);
}

absl::Status JwtVerifier::CheckTimes(const Verified& verified, absl::Time now) const {
  const absl::Time expiry = verified.token.expiry();
  if (now > expiry + leeway_) {
    return JwtError(JwtFailure::kExpired, absl::StrCat("expired at ", FormatUtc(expiry)));
  }
  if (verified.not_before.has_value() && now < *verified.not_before - leeway_) {
    return JwtError(JwtFailure::kNotYetValid,
                    absl::StrCat("not valid before ", FormatUtc(*verified.not_before)));
  }
  return absl::OkStatus();
}

absl::StatusOr<JwtVerifier::Verified> JwtVerifier::VerifyWithKeys(absl::string_view token,
                                                                  const Jwks& jwks) const {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return JwtError(JwtFailure::kMalformed, "not three base64url parts separated by '.'");
  }
  std::optional<std::string> header_json = Base64UrlDecode(parts[0]);
  if (!header_json.has_value()) return JwtError(JwtFailure::kMalformed, "header: not base64url");
  std::optional<google::protobuf::Struct> header = ParseJsonObject(*header_json);
  if (!header.has_value()) {
    return JwtError(JwtFailure::kMalformed, "header: not a JSON object");
  }
  if (Member(*header, "crit") != nullptr) {
    return JwtError(JwtFailure::kMalformed, "header: crit extensions are not supported");
  }

  const google::protobuf::Value* alg_value = Member(*header, "alg");
  if (alg_value == nullptr || alg_value->kind_case() != google::protobuf::Value::kStringValue) {
    return JwtError(JwtFailure::kAlgRefused, "header: no alg; RS256 or ES256 required");
  }
  const std::string& alg = alg_value->string_value();
  KeyType needed;
  if (alg == "RS256") {
    needed = KeyType::kRsa;
  } else if (alg == "ES256") {
    needed = KeyType::kEcP256;
  } else {
    return JwtError(JwtFailure::kAlgRefused,
                    absl::StrCat("algorithm ", Shown(alg), " is refused; RS256 or ES256 only"));
  }

  const Jwk* jwk = nullptr;
  const google::protobuf::Value* kid = Member(*header, "kid");
  if (kid != nullptr) {
    if (kid->kind_case() != google::protobuf::Value::kStringValue) {
      return JwtError(JwtFailure::kMalformed, "header: kid is not a string");
    }
    jwk = jwks.Find(kid->string_value());
    if (jwk == nullptr) {
      return JwtError(
          JwtFailure::kUnknownKid,
          absl::StrCat("signing key ", Shown(kid->string_value()), " is not in the JWKS"));
    }
  } else if (jwks.keys().size() == 1) {
    jwk = &jwks.keys().front();
  } else {
    return JwtError(JwtFailure::kUnknownKid,
                    absl::StrCat("header: no kid, and the JWKS has ", jwks.keys().size(),
                                 " keys to choose from"));
  }
  const std::string key_name = jwk->kid.empty() ? "the JWKS key" : Shown(jwk->kid);
  if (jwk->type != needed) {
    return JwtError(JwtFailure::kKeyMismatch,
                    absl::StrCat("signing key ", key_name, " is ", KeyTypeName(jwk->type), "; ",
                                 alg, " needs ", KeyTypeName(needed)));
  }
  if (!jwk->alg.empty() && jwk->alg != alg) {
    return JwtError(JwtFailure::kKeyMismatch, absl::StrCat("signing key ", key_name, " is for ",
                                                           Shown(jwk->alg), ", not ", alg));
  }
  if (!jwk->use.empty() && jwk->use != "sig") {
    return JwtError(JwtFailure::kKeyMismatch, absl::StrCat("signing key ", key_name, " is for use ",
                                                           Shown(jwk->use), ", not 'sig'"));
  }

  std::optional<std::string> signature = Base64UrlDecode(parts[2]);
  if (!signature.has_value()) {
    return JwtError(JwtFailure::kMalformed, "signature: not base64url");
  }
  const absl::string_view signing_input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!VerifyWith(jwk->key.get(), jwk->type, signing_input, *signature)) {
    return JwtError(JwtFailure::kBadSignature,
                    absl::StrCat("signature does not verify with key ", key_name));
  }

  std::optional<std::string> payload_json = Base64UrlDecode(parts[1]);
  if (!payload_json.has_value()) {
    return JwtError(JwtFailure::kMalformed, "payload: not base64url");
  }
  std::optional<google::protobuf::Struct> claims = ParseJsonObject(*payload_json);
  if (!claims.has_value()) return JwtError(JwtFailure::kMalformed, "payload: not a JSON object");

  const google::protobuf::Value* iss = Member(*claims, "iss");
  if (iss == nullptr || iss->kind_case() != google::protobuf::Value::kStringValue) {
    return JwtError(JwtFailure::kBadIssuer,
                    absl::StrCat("no issuer (iss); ", Shown(issuer_), " required"));
  }
  if (iss->string_value() != issuer_) {
    return JwtError(JwtFailure::kBadIssuer, absl::StrCat("issuer ", Shown(iss->string_value()),
                                                         " is not ", Shown(issuer_)));
  }

  const google::protobuf::Value* aud = Member(*claims, "aud");
  bool audience_ok = false;
  if (aud != nullptr && aud->kind_case() == google::protobuf::Value::kStringValue) {
    audience_ok = aud->string_value() == audience_;
  } else if (aud != nullptr && aud->kind_case() == google::protobuf::Value::kListValue) {
    for (const google::protobuf::Value& entry : aud->list_value().values()) {
      if (entry.kind_case() == google::protobuf::Value::kStringValue &&
          entry.string_value() == audience_) {
        audience_ok = true;
      }
    }
  }
  if (!audience_ok) {
    if (aud == nullptr) {
      return JwtError(JwtFailure::kBadAudience,
                      absl::StrCat("no audience (aud); ", Shown(audience_), " required"));
    }
    return JwtError(JwtFailure::kBadAudience,
                    absl::StrCat("audience does not include ", Shown(audience_)));
  }

  const google::protobuf::Value* exp = Member(*claims, "exp");
  if (exp == nullptr) return JwtError(JwtFailure::kMissingClaim, "no expiry (exp)");
  std::optional<absl::Time> expiry = NumericDate(*exp);
  if (!expiry.has_value()) {
    return JwtError(JwtFailure::kMissingClaim, "expiry (exp) is not a number of seconds");
  }
  std::optional<absl::Time> not_before;
  if (const google::protobuf::Value* nbf = Member(*claims, "nbf"); nbf != nullptr) {
    not_before = NumericDate(*nbf);
    if (!not_before.has_value()) {
      return JwtError(JwtFailure::kMalformed, "not-before (nbf) is not a number of seconds");
    }
  }
  return Verified{VerifiedToken(*std::move(claims), jwk->kid, alg, *expiry), not_before};
}

absl::StatusOr<JwtSigner> JwtSigner::FromPem(absl::string_view private_key_pem, std::string kid) {
  VIGIL_ASSIGN_OR_RETURN(EvpPkeyPtr key, ReadPrivateKeyPem(private_key_pem));
  return FromKey(ShareKey(std::move(key)), std::move(kid));
}

absl::StatusOr<JwtSigner> JwtSigner::FromKey(std::shared_ptr<EVP_PKEY> key, std::string kid) {
  if (key == nullptr) return absl::InvalidArgumentError("signing key: missing");
  const absl::string_view alg = AlgorithmFor(KeyTypeOf(*key));
  if (alg.empty()) {
    return absl::InvalidArgumentError("signing key: not RSA or EC P-256");
  }
  if (KeyTypeOf(*key) == KeyType::kRsa && EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing key: RSA keys need at least ", kMinRsaBits, " bits"));
  }
  return JwtSigner(std::move(key), std::string(alg), std::move(kid));
}

absl::StatusOr<std::string> JwtSigner::Sign(const google::protobuf::Struct& claims) const {
  google::protobuf::Struct header;
  (*header.mutable_fields())["alg"].set_string_value(algorithm_);
  (*header.mutable_fields())["typ"].set_string_value("JWT");
  if (!kid_.empty()) (*header.mutable_fields())["kid"].set_string_value(kid_);
  return SignRaw(ToJson(header), ToJson(claims));
}

absl::StatusOr<std::string> JwtSigner::SignRaw(absl::string_view header_json,
                                               absl::string_view payload_json) const {
  const std::string input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
  VIGIL_ASSIGN_OR_RETURN(std::string signature, SignWith(key_.get(), KeyTypeOf(*key_), input));
  return absl::StrCat(input, ".", Base64UrlEncode(signature));
}

std::string EncodeUnsignedJwt(absl::string_view header_json, absl::string_view payload_json,
                              absl::string_view signature) {
  return absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json), ".",
                      Base64UrlEncode(signature));
}

absl::StatusOr<std::string> JwkThumbprint(const EVP_PKEY& key) {
  VIGIL_ASSIGN_OR_RETURN(PublicJwkMembers members, PublicMembers(key));
  // RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
  const std::string canonical =
      members.type == KeyType::kRsa
          ? absl::StrCat(R"({"e":")", members.first, R"(","kty":"RSA","n":")", members.second,
                         R"("})")
          : absl::StrCat(R"({"crv":"P-256","kty":"EC","x":")", members.first, R"(","y":")",
                         members.second, R"("})");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  if (EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_Digest");
  }
  return Base64UrlEncode(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::StatusOr<std::string> PublicJwksJson(const EVP_PKEY& key, absl::string_view kid) {
  VIGIL_ASSIGN_OR_RETURN(PublicJwkMembers members, PublicMembers(key));
  google::protobuf::Struct jwk;
  auto& fields = *jwk.mutable_fields();
  if (members.type == KeyType::kRsa) {
    fields["kty"].set_string_value("RSA");
    fields["e"].set_string_value(members.first);
    fields["n"].set_string_value(members.second);
  } else {
    fields["kty"].set_string_value("EC");
    fields["crv"].set_string_value("P-256");
    fields["x"].set_string_value(members.first);
    fields["y"].set_string_value(members.second);
  }
  if (!kid.empty()) fields["kid"].set_string_value(std::string(kid));
  fields["use"].set_string_value("sig");
  fields["alg"].set_string_value(std::string(AlgorithmFor(members.type)));
  google::protobuf::Struct document;
  *(*document.mutable_fields())["keys"].mutable_list_value()->add_values()->mutable_struct_value() =
      std::move(jwk);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(document, &json, options).ok()) {
    return absl::InternalError("JWKS: cannot print as JSON");
  }
  return json;
}

}  // namespace vigil::crypto
