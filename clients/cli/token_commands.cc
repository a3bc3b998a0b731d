// `vigil token create-key|dev`: a token-signing key with its JWKS, and signed development
// tokens, for local testing only: production tokens come from the forces' OpenID providers.
// These verbs do not talk to a server.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/crypto/jwt.h"
#include "base/crypto/keys.h"
#include "base/crypto/x509.h"
#include "base/files.h"
#include "clients/cli/cli.h"
#include "google/protobuf/struct.pb.h"

namespace vigil::cli {
namespace {

constexpr int kMaxTtlSeconds = 7 * 24 * 3600;

void AddCreateKey(CLI::App& token, Cli& cli, Action& run) {
  struct Flags {
    std::string dir;
    bool overwrite = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* create = token.add_subcommand(
      "create-key",
      "For local testing only: create an EC P-256 token-signing key, DIR/token-signing.key, and "
      "its public JWKS for vigild --jwks, DIR/jwks.json (kid: the RFC 7638 thumbprint)");
  create->add_option("--dir", flags->dir, "Directory for the files (created 0700)")->required();
  create->add_flag("--overwrite", flags->overwrite, "Replace existing files");
  create->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      const std::string key_path = flags->dir + "/token-signing.key";
      const std::string jwks_path = flags->dir + "/jwks.json";
      if (!flags->overwrite) {
        if (absl::Status s = CheckNoneExist({key_path, jwks_path}); !s.ok()) {
          return cli.Fail(s.message());
        }
      }
      absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::GenerateEcP256Key();
      if (!key.ok()) return cli.Fail(key.status());
      absl::StatusOr<std::string> kid = crypto::JwkThumbprint(**key);
      if (!kid.ok()) return cli.Fail(kid.status());
      absl::StatusOr<std::string> pem = crypto::PrivateKeyToPem(**key);
      if (!pem.ok()) return cli.Fail(pem.status());
      absl::StatusOr<std::string> jwks = crypto::PublicJwksJson(**key, *kid);
      if (!jwks.ok()) return cli.Fail(jwks.status());
      const PrivateFileOptions options{.overwrite = flags->overwrite};
      if (absl::Status s = WritePrivateFile(key_path, *pem, options); !s.ok()) {
        return cli.Fail(s.message());
      }
      if (absl::Status s = WritePrivateFile(jwks_path, *jwks + "\n", options); !s.ok()) {
        return cli.Fail(s.message());
      }
      cli.out() << "wrote " << key_path << " and " << jwks_path << " (kid " << *kid << ")\n";
      return 0;
    };
  });
}

void AddDev(CLI::App& token, Cli& cli, Action& run) {
  struct Flags {
    std::string key;
    crypto::CertificateIdentity identity;
    std::string issuer = "vigil-dev";
    std::string audience = "vigil";
    int ttl_seconds = 3600;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* dev = token.add_subcommand(
      "dev",
      "For local testing only: print a token signed with a key from 'vigil token create-key', "
      "carrying an identity in the claims vigild reads by default");
  dev->add_option("--key", flags->key, "The signing key, e.g. DIR/token-signing.key")->required();
  dev->add_option("--actor", flags->identity.actor, "Who, e.g. 'DC 100' (preferred_username)")
      ->required();
  dev->add_option("--role", flags->identity.role,
                  "officer, supervisor, force-admin, auditor, system, national-auditor or "
                  "hmicfrs-inspector (vigil_role)")
      ->required();
  dev->add_option("--force", flags->identity.force, "The force, e.g. wessex (vigil_force)")
      ->required();
  dev->add_option("--team", flags->identity.team, "The team (vigil_team); optional");
  dev->add_option("--rank", flags->identity.rank,
                  "officer, sergeant, inspector or superintendent (vigil_rank); optional");
  dev->add_option("--issuer", flags->issuer, "iss")->capture_default_str();
  dev->add_option("--audience", flags->audience, "aud")->capture_default_str();
  dev->add_option("--ttl-seconds", flags->ttl_seconds, "Seconds until exp")
      ->check(CLI::Range(1, kMaxTtlSeconds))
      ->capture_default_str();
  dev->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      if (absl::Status s =
              crypto::ValidateCertificateIdentity(flags->identity, crypto::kMaxActorChars);
          !s.ok()) {
        cli.err() << "vigil: --" << s.message() << '\n';
        return 2;
      }
      if (flags->identity.role == "service") {
        cli.err() << "vigil: --role: tokens never carry the service role; vigil's own "
                     "processes use a service certificate\n";
        return 2;
      }
      if (flags->issuer.empty() || flags->audience.empty()) {
        cli.err() << "vigil: --" << (flags->issuer.empty() ? "issuer" : "audience")
                  << ": must not be empty\n";
        return 2;
      }
      if (absl::Status s = CheckPrivateFile(flags->key); !s.ok()) {
        return cli.Fail(s.message());
      }
      absl::StatusOr<std::string> pem = ReadSmallFile(flags->key);
      if (!pem.ok()) return cli.Fail(pem.status());
      absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::ReadPrivateKeyPem(*pem);
      if (!key.ok()) return cli.Fail(absl::StrCat(flags->key, ": ", key.status().message()));
      absl::StatusOr<std::string> kid = crypto::JwkThumbprint(**key);
      if (!kid.ok()) return cli.Fail(absl::StrCat(flags->key, ": ", kid.status().message()));
      absl::StatusOr<crypto::JwtSigner> signer =
          crypto::JwtSigner::FromKey(crypto::ShareKey(*std::move(key)), *kid);
      if (!signer.ok()) return cli.Fail(absl::StrCat(flags->key, ": ", signer.status().message()));

      const crypto::CertificateIdentity& id = flags->identity;
      const int64_t now = absl::ToUnixSeconds(absl::Now());
      google::protobuf::Struct claims;
      auto& fields = *claims.mutable_fields();
      fields["iss"].set_string_value(flags->issuer);
      fields["aud"].set_string_value(flags->audience);
      fields["sub"].set_string_value(id.actor);
      fields["preferred_username"].set_string_value(id.actor);
      fields["vigil_role"].set_string_value(id.role);
      fields["vigil_force"].set_string_value(id.force);
      if (!id.team.empty()) fields["vigil_team"].set_string_value(id.team);
      if (!id.rank.empty()) fields["vigil_rank"].set_string_value(id.rank);
      fields["iat"].set_number_value(static_cast<double>(now));
      fields["nbf"].set_number_value(static_cast<double>(now));
      fields["exp"].set_number_value(static_cast<double>(now + flags->ttl_seconds));
      absl::StatusOr<std::string> signed_token = signer->Sign(claims);
      if (!signed_token.ok()) return cli.Fail(signed_token.status());
      cli.out() << *signed_token << '\n';
      return 0;
    };
  });
}

}  // namespace

void AddTokenCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* token = app.add_subcommand(
      "token",
      "For local testing only: a token-signing key and development tokens (no server needed; "
      "real tokens come from an OpenID provider)");
  token->require_subcommand(1);
  AddCreateKey(*token, cli, run);
  AddDev(*token, cli, run);
}

}  // namespace vigil::cli
