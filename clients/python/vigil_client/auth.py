"""How a Client proves who it is (docs/security.md): TLS material, bearer tokens and the
development identity headers."""

import base64
import dataclasses
import json
import time
from datetime import datetime, timezone

from .errors import ConfigurationError, TokenExpired

# What vigild accepts as roles (docs/api.md, "Identity and purpose").
ROLES = ("officer", "supervisor", "force-admin", "auditor", "system", "service",
         "national-auditor", "hmicfrs-inspector")


@dataclasses.dataclass(frozen=True)
class DevIdentity:
    """The identity a vigild started with --auth=dev trusts as sent: the metadata
    x-vigil-actor, x-vigil-role and x-vigil-force (and optionally x-vigil-team, x-vigil-rank).
    A vigild with a real authenticator (mtls, jwt) ignores these headers."""

    actor: str
    role: str
    force: str
    team: str = ""
    rank: str = ""

    def __post_init__(self):
        if not self.actor or not self.force:
            raise ConfigurationError("DevIdentity: actor and force are required")
        if self.role not in ROLES:
            raise ConfigurationError(
                f"DevIdentity: role {self.role!r} is not one of {', '.join(ROLES)}")

    def metadata(self):
        pairs = [("x-vigil-actor", self.actor), ("x-vigil-role", self.role),
                 ("x-vigil-force", self.force)]
        if self.team:
            pairs.append(("x-vigil-team", self.team))
        if self.rank:
            pairs.append(("x-vigil-rank", self.rank))
        return pairs


@dataclasses.dataclass(frozen=True)
class TlsConfig:
    """TLS to vigild: `ca` is the CA file that signed vigild's certificate (None: the system's
    roots); `cert` and `key` a client certificate for mutual TLS (both or neither); `server_name`
    overrides the name checked against the server's certificate (default: the address's host)."""

    ca: str = None
    cert: str = None
    key: str = None
    server_name: str = None

    def credentials(self):
        import grpc
        if bool(self.cert) != bool(self.key):
            raise ConfigurationError("TLS: a client certificate needs both cert and key")
        root = _read_pem("tls_ca", self.ca, "CERTIFICATE") if self.ca else None
        cert = _read_pem("tls_cert", self.cert, "CERTIFICATE") if self.cert else None
        key = _read_pem("tls_key", self.key, "PRIVATE KEY") if self.key else None
        return grpc.ssl_channel_credentials(root_certificates=root, private_key=key,
                                            certificate_chain=cert)


def _read_pem(what, path, label):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigurationError(f"{what}: cannot read {path}: {e.strerror}") from e
    if b"-----BEGIN " not in data or label.encode() not in data:
        raise ConfigurationError(f"{what}: {path} holds no PEM {label}")
    return data


class TokenSource:
    """Gives the bearer token for each call: a fixed string, a callable returning a token (so it
    can refresh), or a file read at each call (so a rotated token is picked up).

    A JWT whose exp claim is more than `leeway` seconds past is refused here with TokenExpired,
    before anything is sent; vigild applies the same check with its own leeway (default 60 s),
    and is the one that verifies the token."""

    def __init__(self, token=None, token_file=None, leeway=60.0):
        if token is not None and token_file is not None:
            raise ConfigurationError("give token or token_file, not both")
        self._token = token
        self._file = token_file
        self._leeway = leeway

    def __bool__(self):
        return self._token is not None or self._file is not None

    def get(self):
        if self._file is not None:
            try:
                with open(self._file) as f:
                    token = f.read().strip()
            except OSError as e:
                raise ConfigurationError(
                    f"token_file: cannot read {self._file}: {e.strerror}") from e
        elif callable(self._token):
            token = self._token()
        else:
            token = self._token
        if not token:
            raise ConfigurationError("the token provider gave an empty token")
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        expiry = jwt_expiry(token)
        if expiry is not None and expiry + self._leeway < time.time():
            when = datetime.fromtimestamp(expiry, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise TokenExpired(f"bearer token expired at {when} (its exp claim); get a new token")
        return token


def jwt_expiry(token):
    """The exp claim of a JWT, in seconds since the epoch; None when the token is not a JWT or
    has no numeric exp. Nothing is verified: that is vigild's job."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
