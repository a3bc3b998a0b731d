// Typed errors: every failed call rejects with a VigilError subclass named after its gRPC code,
// following vigild's conventions (docs/api.md, "Errors"). Three refinements say what went wrong
// before the server could answer:
//  - Unreachable (an Unavailable): no connection to the address (refused, unknown host, no
//    route, or none before the deadline);
//  - TlsHandshakeFailed (an Unreachable): connected, but TLS failed (a CA that did not sign
//    vigild's certificate, a name not in it); a client certificate vigild refuses shows as
//    Unreachable, since under TLS 1.3 vigild refuses it after the client's side is done;
//  - ConnectionLost (an Unavailable): the connection closed under the call (grpc-js reports
//    this as INTERNAL);
//  - TokenExpired (an Unauthenticated): the bearer token's own exp claim has passed; nothing
//    was sent.
// ConfigurationError (not a VigilError: no call was made) is a bad option or file.
import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigurationError";
  }
}

/** A failed call. `code` is the gRPC status code, `details` vigild's message (it names the bad
 * field or the missing key), `rpc` the method ("vigil.v1.OffenderService/GetOffender"),
 * `retryAfterMs` the wait the server asked for (grpc-retry-pushback-ms). */
export class VigilError extends Error {
  static readonly code: Status = Status.UNKNOWN;
  readonly code: Status;
  readonly details: string;
  readonly rpc?: string;
  readonly retryAfterMs?: number;
  readonly metadata?: Metadata;

  constructor(details: string, init: { rpc?: string; code?: Status; retryAfterMs?: number;
                                      metadata?: Metadata; cause?: unknown } = {}) {
    const code = init.code ?? (new.target as typeof VigilError).code;
    super(`${init.rpc ? `${init.rpc}: ` : ""}${Status[code]}: ${details}`,
          init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.rpc = init.rpc;
    this.retryAfterMs = init.retryAfterMs;
    this.metadata = init.metadata;
  }
}

const typed = <C extends Status>(code: C) =>
  class extends VigilError {
    static override readonly code: Status = code;
  };

export class Cancelled extends typed(Status.CANCELLED) {}
export class Unknown extends typed(Status.UNKNOWN) {}
export class InvalidArgument extends typed(Status.INVALID_ARGUMENT) {}
export class DeadlineExceeded extends typed(Status.DEADLINE_EXCEEDED) {}
export class NotFound extends typed(Status.NOT_FOUND) {}
export class AlreadyExists extends typed(Status.ALREADY_EXISTS) {}
export class PermissionDenied extends typed(Status.PERMISSION_DENIED) {}
export class ResourceExhausted extends typed(Status.RESOURCE_EXHAUSTED) {}
export class FailedPrecondition extends typed(Status.FAILED_PRECONDITION) {}
export class Aborted extends typed(Status.ABORTED) {}
export class OutOfRange extends typed(Status.OUT_OF_RANGE) {}
export class Unimplemented extends typed(Status.UNIMPLEMENTED) {}
export class Internal extends typed(Status.INTERNAL) {}
export class Unavailable extends typed(Status.UNAVAILABLE) {}
export class DataLoss extends typed(Status.DATA_LOSS) {}
export class Unauthenticated extends typed(Status.UNAUTHENTICATED) {}
/** No connection to the server could be made; nothing was sent. */
export class Unreachable extends Unavailable {}
/** The connection was lost during the call (vigild stopped, a proxy or the network dropped it):
 * its outcome is unknown; a write may be retried with the same requestId. */
export class ConnectionLost extends Unavailable {}
/** The TLS handshake failed: check the CA (tls.ca), the server name and the client certificate. */
export class TlsHandshakeFailed extends Unreachable {}
/** The bearer token's exp claim has passed; nothing was sent. Get a new token. */
export class TokenExpired extends Unauthenticated {}

const BY_CODE = new Map<Status, typeof VigilError>(
  [Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
   PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented,
   Internal, Unavailable, DataLoss, Unauthenticated].map((c) => [c.code, c]));

// What grpc-js says when no connection was made (it has no structured field for this).
const NO_CONNECTION = /no connection established|ECONNREFUSED|name resolution failed|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|failed to connect|connection dropped before/i;
// grpc-js reports a connection closed under a call as INTERNAL (HTTP/2 RST_STREAM or GOAWAY
// with an error code); for the caller it is a lost connection, as gRPC core reports it.
const LOST = /Session closed|RST_STREAM with code [02]\b|GOAWAY|Connection dropped|Stream removed/i;
const TLS = /certificate|handshake|SSL|TLS|self[- ]signed|UNABLE_TO_VERIFY|ERR_TLS|altnames/i;

/** Maps a grpc-js ServiceError to the matching VigilError. `connected` says whether the
 * channel is connected now: a DEADLINE_EXCEEDED without a connection is Unreachable. */
export function fromServiceError(error: ServiceError | Error, init: { rpc?: string; address?: string;
                                 connected?: boolean } = {}): VigilError {
  if (error instanceof VigilError) return error;
  const e = error as Partial<ServiceError>;
  const code = typeof e.code === "number" ? (e.code as Status) : Status.UNKNOWN;
  const details = e.details || error.message;
  let retryAfterMs: number | undefined;
  const pushback = e.metadata?.get("grpc-retry-pushback-ms")?.[0];
  if (pushback !== undefined && /^\d+$/.test(String(pushback))) retryAfterMs = Number(pushback);
  const common = { rpc: init.rpc, retryAfterMs, metadata: e.metadata, cause: error };
  if (code === Status.UNAVAILABLE && NO_CONNECTION.test(details)) {
    if (TLS.test(details)) {
      return new TlsHandshakeFailed(`TLS handshake with ${init.address} failed (${details}); check ` +
        "tls.ca is the CA that signed vigild's certificate, the server name, and the client certificate",
      common);
    }
    return new Unreachable(`cannot reach vigild at ${init.address}: ${details}`, common);
  }
  if (code === Status.INTERNAL && LOST.test(details)) {
    return new ConnectionLost(`connection to vigild at ${init.address} lost during the call (${details})`,
      { ...common, code: Status.UNAVAILABLE });
  }
  if (code === Status.DEADLINE_EXCEEDED && init.connected === false) {
    return new Unreachable(`no connection to vigild at ${init.address} before the deadline (${details})`,
      { ...common, code: Status.UNAVAILABLE });
  }
  const Class = BY_CODE.get(code) ?? VigilError;
  return new Class(details, { ...common, code });
}
