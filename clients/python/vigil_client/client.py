"""The vigil Client: one gRPC channel to vigild, the caller's credentials added to every call,
typed errors, paged lists as iterators and resumable alert subscriptions."""

import datetime
import ipaddress
import os
import threading

import grpc
from google.protobuf import json_format, message as _message
from google.protobuf import timestamp_pb2

from . import errors, v1
from .auth import DevIdentity, TlsConfig, TokenSource
from .errors import ConfigurationError

# Client attribute -> service. Every service of the API is reachable as client.<attribute>, or
# by full name with client.service("vigil.v1.X").
SERVICES = {
    "offenders": "vigil.v1.OffenderService",
    "assessments": "vigil.v1.AssessmentService",
    "visits": "vigil.v1.VisitService",
    "referrals": "vigil.v1.ReferralService",
    "alerts": "vigil.v1.AlertService",
    "backlog": "vigil.v1.BacklogService",
    "audit": "vigil.v1.AuditService",
    "admin": "vigil.v1.AdminService",
    "obligations": "vigil.v1.ObligationFeed",
}

_DEFAULT = object()


def timestamp(value):
    """A google.protobuf.Timestamp from a datetime (naive means UTC), a date (midnight UTC), an
    RFC 3339 string or seconds since the epoch."""
    ts = timestamp_pb2.Timestamp()
    if isinstance(value, timestamp_pb2.Timestamp):
        ts.CopyFrom(value)
    elif isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        ts.FromDatetime(value.astimezone(datetime.timezone.utc).replace(tzinfo=None))
    elif isinstance(value, datetime.date):
        ts.FromDatetime(datetime.datetime(value.year, value.month, value.day))
    elif isinstance(value, str):
        ts.FromJsonString(value)
    elif isinstance(value, (int, float)):
        ts.FromNanoseconds(int(value * 1e9))
    else:
        raise TypeError(f"cannot make a Timestamp from {type(value).__name__}")
    return ts


def build_message(cls, fields):
    """cls(**fields), where Timestamp fields (at any depth, in dicts too) may also be given as
    datetimes, dates, RFC 3339 strings or epoch seconds, and enums by name."""
    return cls(**_coerce(cls.DESCRIPTOR, fields))


def _coerce(descriptor, fields):
    out = {}
    for name, value in fields.items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            raise ConfigurationError(f"{descriptor.full_name} has no field {name!r}")
        sub = field.message_type
        if sub is None or value is None:
            out[name] = value
            continue
        repeated = field.label == field.LABEL_REPEATED and not sub.GetOptions().map_entry

        def one(v):
            if (sub.full_name == "google.protobuf.Timestamp"
                    and not isinstance(v, (dict, _message.Message))):
                return timestamp(v)
            if isinstance(v, dict):
                return _coerce(sub, v)
            return v

        out[name] = [one(v) for v in value] if repeated else one(value)
    return out


def _is_loopback(address):
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    target = address.split("///")[-1] if "///" in address else address
    host = target
    if target.startswith("["):
        host = target[1:target.find("]")]
    elif target.count(":") == 1:
        host = target.rsplit(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Method:
    """One RPC, bound to a Client. Calling it sends one request; for a server-streaming RPC it
    returns an iterator over the responses.

        client.offenders.GetOffender(id="RSO1")                 # fields as keywords
        client.offenders.GetOffender(v1.GetOffenderRequest(id="RSO1"))
        client.offenders.GetOffender({"id": "RSO1"})            # a dict in JSON field names

    Keywords for the call itself: timeout (seconds; None: no deadline; default the Client's),
    purpose (x-vigil-purpose; default the Client's), metadata (more (key, value) pairs). Failures
    raise a vigil_client.errors.VigilError subclass.

    A List RPC (one whose request has `page`) also has pages() and items(): see there."""

    def __init__(self, client, service, method, request_type, response_type):
        self._client = client
        self.full_name = f"{service.full_name}/{method.name}"
        self.name = method.name
        self.request_type = request_type
        self.response_type = response_type
        self.server_streaming = method.server_streaming
        self.paged = ("page" in request_type.DESCRIPTOR.fields_by_name
                      and "next_page_token" in response_type.DESCRIPTOR.fields_by_name)
        path = f"/{self.full_name}"
        channel = client._channel
        make = channel.unary_stream if method.server_streaming else channel.unary_unary
        self._call = make(path, request_serializer=request_type.SerializeToString,
                          response_deserializer=response_type.FromString)

    def request(self, request=None, **fields):
        """The request message: `request` itself, a dict parsed in JSON field names, or keyword
        fields (see build_message)."""
        if request is None:
            return build_message(self.request_type, fields)
        if fields:
            raise TypeError("give a request or keyword fields, not both")
        if isinstance(request, self.request_type):
            return request
        if isinstance(request, dict):
            return json_format.ParseDict(request, self.request_type())
        raise TypeError(f"{self.name} takes a {self.request_type.DESCRIPTOR.full_name}, "
                        f"not a {type(request).__name__}")

    def __call__(self, request=None, /, *, timeout=_DEFAULT, purpose=None, metadata=(), **fields):
        req = self.request(request, **fields)
        if timeout is _DEFAULT:
            timeout = None if self.server_streaming else self._client.timeout
        md = self._client._metadata(purpose, metadata)
        try:
            if self.server_streaming:
                return _Stream(self, self._call(req, timeout=timeout, metadata=md))
            return self._call(req, timeout=timeout, metadata=md)
        except grpc.RpcError as e:
            raise self._client._error(e, self.full_name) from None

    def pages(self, request=None, /, *, page_size=None, **kwargs):
        """Yields each response page of a List RPC, following next_page_token to the end.
        `page_size` sets request.page.page_size (server default 50, at most 1000)."""
        if not self.paged:
            raise TypeError(f"{self.full_name} is not a paged List RPC")
        call = {k: kwargs.pop(k) for k in ("timeout", "purpose", "metadata") if k in kwargs}
        req = self.request(request, **kwargs)
        if page_size is not None:
            req.page.page_size = page_size
        while True:
            response = self(req, **call)
            yield response
            if not response.next_page_token:
                return
            req.page.page_token = response.next_page_token

    def items(self, request=None, /, *, field=None, page_size=None, **kwargs):
        """Yields every item of a List RPC across its pages. `field` names the response's list
        (default: its only repeated message field)."""
        if field is None:
            lists = [f.name for f in self.response_type.DESCRIPTOR.fields
                     if f.label == f.LABEL_REPEATED and f.message_type is not None]
            if len(lists) != 1:
                raise TypeError(f"{self.full_name}: name the list to follow with field= "
                                f"(one of {', '.join(lists)})")
            field = lists[0]
        for page in self.pages(request, page_size=page_size, **kwargs):
            yield from getattr(page, field)


class _Stream:
    """A server stream whose failures raise VigilError; cancel() ends it from any thread."""

    def __init__(self, method, call):
        self._method = method
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._call)
        except grpc.RpcError as e:
            raise self._method._client._error(e, self._method.full_name) from None

    def initial_metadata(self):
        try:
            return self._call.initial_metadata()
        except grpc.RpcError as e:
            raise self._method._client._error(e, self._method.full_name) from None

    def cancel(self):
        self._call.cancel()


class Service:
    """The RPCs of one service, as attributes named as in the .proto
    (client.offenders.GetOffender)."""

    def __init__(self, client, descriptor, types):
        self.full_name = descriptor.full_name
        for method in descriptor.methods:
            setattr(self, method.name, Method(client, descriptor, method,
                                              types[method.input_type.full_name],
                                              types[method.output_type.full_name]))

    def __repr__(self):
        return f"<vigil service {self.full_name}>"


def _types_and_services():
    types, services = {}, {}
    for module in v1.MODULES:
        for name, desc in module.DESCRIPTOR.message_types_by_name.items():
            types[desc.full_name] = getattr(module, name)
        for desc in module.DESCRIPTOR.services_by_name.values():
            services[desc.full_name] = desc
    return types, services


class Client:
    """A connection to one vigild, and the credentials sent with every call.

    address: "host:port" (or any gRPC target). Transport: TLS when tls_ca is given (the CA that
    signed vigild's certificate) or tls=True (the system's roots), with tls_cert and tls_key for
    mutual TLS and tls_server_name to check another name than the address's host. Without TLS the
    connection is plaintext, which is allowed only to a loopback address (a vigild with
    --auth=dev listens nowhere else).

    Identity (docs/security.md): token is a bearer token (a string, or a callable returning one
    for each call, so it can refresh) sent as `authorization: Bearer ...`, or token_file a file
    read at each call; dev_identity a DevIdentity for a vigild with --auth=dev; with mtls the
    client certificate is the identity. purpose is the default x-vigil-purpose (a call's
    purpose= overrides it); cross_team the x-vigil-cross-team reason, when one applies.

    timeout: the default deadline of unary calls in seconds (streams have none unless given).

    Thread-safe: one Client may be shared by threads. close() (or `with`) releases the channel.
    Files are read when the Client is made; a missing or non-PEM file is ConfigurationError."""

    def __init__(self, address, *, tls_ca=None, tls_cert=None, tls_key=None, tls_server_name=None,
                 tls=False, token=None, token_file=None, dev_identity=None, purpose=None,
                 cross_team=None, timeout=30.0, token_leeway=60.0, channel_options=()):
        if not address:
            raise ConfigurationError("address is required (host:port)")
        self.address = address
        self.timeout = timeout
        self.purpose = purpose
        self.cross_team = cross_team
        if dev_identity is not None and not isinstance(dev_identity, DevIdentity):
            raise ConfigurationError("dev_identity must be a DevIdentity")
        self.dev_identity = dev_identity
        self._tokens = TokenSource(token, token_file, leeway=token_leeway)
        secure = tls or tls_ca or tls_cert or tls_key
        options = [("grpc.initial_reconnect_backoff_ms", 200),
                   ("grpc.max_reconnect_backoff_ms", 5000)]
        if secure:
            config = TlsConfig(ca=tls_ca, cert=tls_cert, key=tls_key, server_name=tls_server_name)
            credentials = config.credentials()
            if tls_server_name:
                options.append(("grpc.ssl_target_name_override", tls_server_name))
            options.extend(channel_options)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            if not _is_loopback(address):
                raise ConfigurationError(
                    f"{address} is not a loopback address: plaintext is only for loopback; give "
                    f"tls_ca (the CA that signed vigild's certificate) or tls=True")
            options.extend(channel_options)
            self._channel = grpc.insecure_channel(address, options=options)
        self.tls = bool(secure)
        self._ever_ready = threading.Event()
        self._channel.subscribe(self._on_state, try_to_connect=False)
        types, services = _types_and_services()
        self._services = {name: Service(self, desc, types) for name, desc in services.items()}
        for attribute, name in SERVICES.items():
            setattr(self, attribute, self._services[name])

    @classmethod
    def from_env(cls, **overrides):
        """A Client configured as the vigil CLI is: VIGIL_SERVER (default 127.0.0.1:7420),
        VIGIL_TLS_CA, VIGIL_CERT, VIGIL_KEY, VIGIL_TLS_SERVER_NAME, VIGIL_TOKEN or
        VIGIL_TOKEN_FILE, VIGIL_ACTOR + VIGIL_ROLE + VIGIL_FORCE (+ VIGIL_TEAM, VIGIL_RANK) for
        --auth=dev, VIGIL_PURPOSE. Keyword arguments override."""
        env = os.environ.get
        kwargs = dict(tls_ca=env("VIGIL_TLS_CA"), tls_cert=env("VIGIL_CERT"),
                      tls_key=env("VIGIL_KEY"), tls_server_name=env("VIGIL_TLS_SERVER_NAME"),
                      token=env("VIGIL_TOKEN"), token_file=env("VIGIL_TOKEN_FILE"),
                      purpose=env("VIGIL_PURPOSE"))
        if env("VIGIL_ACTOR"):
            kwargs["dev_identity"] = DevIdentity(
                env("VIGIL_ACTOR"), env("VIGIL_ROLE", ""), env("VIGIL_FORCE", ""),
                env("VIGIL_TEAM", ""), env("VIGIL_RANK", ""))
        kwargs.update(overrides)
        address = kwargs.pop("address", None) or env("VIGIL_SERVER", "127.0.0.1:7420")
        return cls(address, **kwargs)

    def service(self, full_name):
        """The Service named `full_name`, e.g. "vigil.v1.OffenderService"."""
        return self._services[full_name]

    def subscribe_alerts(self, **kwargs):
        """An AlertSubscription: AlertService.Subscribe that resumes after the last event it
        delivered across reconnects, and from cursor_file across restarts. See
        vigil_client.subscription.AlertSubscription for the arguments."""
        from .subscription import AlertSubscription
        return AlertSubscription(self, **kwargs)

    def wait_ready(self, timeout=10.0):
        """Waits until a connection is made; Unreachable after `timeout` seconds."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise errors.Unreachable(f"no connection to vigild at {self.address} within "
                                     f"{timeout:g}s") from None

    def close(self):
        self._channel.unsubscribe(self._on_state)
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _on_state(self, state):
        if state == grpc.ChannelConnectivity.READY:
            self._ever_ready.set()

    def _metadata(self, purpose, extra):
        md = []
        if self.dev_identity is not None:
            md.extend(self.dev_identity.metadata())
        if self._tokens:
            md.append(("authorization", "Bearer " + self._tokens.get()))
        purpose = purpose if purpose is not None else self.purpose
        if purpose:
            md.append(("x-vigil-purpose", purpose))
        if self.cross_team:
            md.append(("x-vigil-cross-team", self.cross_team))
        md.extend(extra)
        return md

    def _error(self, error, rpc):
        return errors.from_rpc_error(error, rpc=rpc, address=self.address,
                                     never_connected=not self._ever_ready.is_set())
