"""vigil_client: a Python client for vigil's gRPC API (package vigil.v1).

    from vigil_client import Client, DevIdentity, v1
    with Client("127.0.0.1:7420", dev_identity=DevIdentity("DC 100", "officer", "wessex"),
                purpose="weekly review") as vigil:
        offender = vigil.offenders.GetOffender(id="RSO1")
        for item in vigil.backlog.ListBacklogItems.items(team="north"):
            print(item.obligation.reason)

See the package README for TLS, tokens, subscriptions and errors."""

from . import errors, v1
from ._version import API_VERSION, __version__
from .auth import DevIdentity, TlsConfig, jwt_expiry
from .client import SERVICES, Client, Method, Service, build_message, timestamp
from .errors import (Aborted, AlreadyExists, Cancelled, ConfigurationError, ConnectionLost,
                     DataLoss, DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument,
                     NotFound, OutOfRange, PermissionDenied, ResourceExhausted,
                     TlsHandshakeFailed, TokenExpired, Unauthenticated, Unavailable,
                     Unimplemented, Unknown, Unreachable, VigilError)
from .subscription import AlertSubscription, CursorFile

__all__ = [
    "API_VERSION", "Aborted", "AlertSubscription", "AlreadyExists", "Cancelled", "Client",
    "ConfigurationError", "ConnectionLost", "CursorFile", "DataLoss", "DeadlineExceeded",
    "DevIdentity", "FailedPrecondition", "Internal", "InvalidArgument", "Method", "NotFound",
    "OutOfRange", "PermissionDenied", "ResourceExhausted", "SERVICES", "Service", "TlsConfig",
    "TlsHandshakeFailed", "TokenExpired", "Unauthenticated", "Unavailable", "Unimplemented",
    "Unknown", "Unreachable", "VigilError", "__version__", "build_message", "errors",
    "jwt_expiry", "timestamp", "v1",
]
