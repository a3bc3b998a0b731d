"""Typed errors: every failed call raises a VigilError subclass named after its gRPC code.

The classes follow vigild's error conventions (docs/api.md, "Errors"): NotFound means the record
is not in the caller's force, Aborted asks for a fresh read and a retry, Unavailable may be
retried with the same request_id, and so on. Three refinements say what went wrong before the
server could answer:

- Unreachable (an Unavailable): no connection could be made to the address (refused, unknown
  host, no route, or no connection within the call's deadline);
- ConnectionLost (an Unavailable): the connection closed under the call (vigild stopped, a
  proxy or the network dropped it); a write's outcome is unknown: retry it with its request_id;
- TlsHandshakeFailed (an Unreachable): the connection was made but TLS failed, usually a CA that
  did not sign vigild's certificate or a server name not in it (a client certificate vigild
  refuses is an Unreachable, "Socket closed": under TLS 1.3 the client's side is done by then);
- TokenExpired (an Unauthenticated): the bearer token's own `exp` claim has passed, found
  before anything was sent.

ConfigurationError (not a VigilError: no call was made) is a bad Client argument or file.
"""

import re

import grpc


class ConfigurationError(ValueError):
    """A Client option or file is wrong (a missing CA file, a key without a certificate...)."""


class VigilError(Exception):
    """A call failed. `code` is the grpc.StatusCode, `details` the server's message (which names
    the bad field or the missing key), `retry_after` the seconds the server asked to wait (from
    grpc-retry-pushback-ms, for RESOURCE_EXHAUSTED), `rpc` the method's full name."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, details, *, rpc=None, code=None, retry_after=None, trailers=()):
        super().__init__(details)
        self.details = details
        self.rpc = rpc
        if code is not None:
            self.code = code
        self.retry_after = retry_after
        self.trailers = tuple(trailers)

    def __str__(self):
        where = f"{self.rpc}: " if self.rpc else ""
        return f"{where}{self.code.name}: {self.details}"


class Cancelled(VigilError):
    code = grpc.StatusCode.CANCELLED


class Unknown(VigilError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(VigilError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(VigilError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(VigilError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(VigilError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(VigilError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(VigilError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(VigilError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(VigilError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(VigilError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(VigilError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(VigilError):
    code = grpc.StatusCode.INTERNAL


class Unavailable(VigilError):
    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(VigilError):
    code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(VigilError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unreachable(Unavailable):
    """No connection to the server could be made; nothing was sent."""


class ConnectionLost(Unavailable):
    """The connection closed under the call; its outcome is unknown (retry a write with the same
    request_id)."""


class TlsHandshakeFailed(Unreachable):
    """The TLS handshake failed: check the CA (tls_ca), the server name and the client
    certificate."""


class TokenExpired(Unauthenticated):
    """The bearer token's exp claim has passed; nothing was sent. Get a new token."""


_BY_CODE = {cls.code: cls for cls in (
    Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
    PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented,
    Internal, Unavailable, DataLoss, Unauthenticated)}

# What gRPC core says when no connection was made (it has no structured field for this).
_NO_CONNECTION = re.compile(
    r"failed to connect|connection refused|dns resolution failed|name resolution|"
    r"no route to host|network is unreachable|connect failed|no connection established",
    re.IGNORECASE)
# A connection closed under a call (gRPC core says UNAVAILABLE; some versions INTERNAL or UNKNOWN).
_LOST = re.compile(r"socket closed|stream removed|rst_stream|goaway|connection reset|broken pipe",
                   re.IGNORECASE)
_TLS = re.compile(r"handshake|certificate verify failed|ssl_error|tls", re.IGNORECASE)


def from_rpc_error(error, *, rpc=None, address=None, never_connected=False):
    """Maps a grpc.RpcError (a failed call) to the matching VigilError. `never_connected` says
    the channel has never been ready, which turns a DEADLINE_EXCEEDED into Unreachable."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else None) or str(error)
    trailers = ()
    try:
        trailers = tuple(error.trailing_metadata() or ())
    except Exception:  # noqa: BLE001 - a channel-level error may carry no trailers
        trailers = ()
    retry_after = None
    for key, value in trailers:
        if key == "grpc-retry-pushback-ms":
            try:
                retry_after = int(value) / 1000.0
            except ValueError:
                pass
    kwargs = dict(rpc=rpc, retry_after=retry_after, trailers=trailers)
    debug = ""
    if hasattr(error, "debug_error_string"):
        try:
            debug = error.debug_error_string() or ""
        except Exception:  # noqa: BLE001
            debug = ""
    if code == grpc.StatusCode.UNAVAILABLE and (_NO_CONNECTION.search(details)
                                                or _NO_CONNECTION.search(debug)):
        if _TLS.search(details) or _TLS.search(debug):
            return TlsHandshakeFailed(
                f"TLS handshake with {address} failed ({details}); check tls_ca is the CA that "
                f"signed vigild's certificate, the server name, and the client certificate",
                **kwargs)
        return Unreachable(f"cannot reach vigild at {address}: {details}", **kwargs)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
                grpc.StatusCode.UNKNOWN) and _LOST.search(details):
        return ConnectionLost(f"connection to vigild at {address} lost during the call ({details})",
                              code=grpc.StatusCode.UNAVAILABLE, **kwargs)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and never_connected:
        return Unreachable(f"no connection to vigild at {address} before the deadline "
                           f"({details})", code=grpc.StatusCode.UNAVAILABLE, **kwargs)
    return _BY_CODE.get(code, VigilError)(details, code=code, **kwargs)
