// The vigil Client: one gRPC channel (@grpc/grpc-js) to vigild, the caller's credentials on
// every call, typed errors, paged lists as async iterators and resumable alert subscriptions.
import * as grpc from "@grpc/grpc-js";
import { isIP } from "node:net";
import { DevIdentity, TlsOptions, TokenProvider, TokenSource, devIdentityHeaders, readPem } from "./auth";
import { ConfigurationError, Unreachable, VigilError, fromServiceError } from "./errors";
import {
  AdminServiceDefinition, AlertServiceDefinition, AssessmentServiceDefinition,
  AuditServiceDefinition, BacklogServiceDefinition, ObligationFeedDefinition,
  OffenderServiceDefinition, ReferralServiceDefinition, VisitServiceDefinition,
} from "./gen/v1";
import type { DeepPartial } from "./gen/v1";
import { AlertSubscription, SubscribeOptions } from "./subscription";

export type { DeepPartial };

/** Options of one call. */
export interface CallOptions {
  /** Deadline in milliseconds from now; null: none. Default: the Client's timeoutMs for unary
   * calls, none for streams. */
  timeoutMs?: number | null;
  /** x-vigil-purpose for this call (default: the Client's purpose). */
  purpose?: string;
  /** More metadata for this call. */
  metadata?: Record<string, string>;
  /** Cancels the call (it then rejects with Cancelled). */
  signal?: AbortSignal;
}

export interface PageOptions extends CallOptions {
  /** request.page.pageSize: server default 50, at most 1000. */
  pageSize?: number;
}

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: any): T;
}

interface MethodDefinition {
  name: string;
  requestType: Codec<any>;
  responseType: Codec<any>;
  requestStream: boolean;
  responseStream: boolean;
}

interface ServiceDefinition {
  name: string;
  fullName: string;
  methods: Record<string, MethodDefinition>;
}

type RequestOf<M> = M extends { requestType: { fromPartial(object: any): infer R } } ? R : never;
type ResponseOf<M> = M extends { responseType: { decode(input: any, length?: number): infer R } } ? R : never;
type ListFields<R> = { [K in keyof R]: R[K] extends readonly object[] ? K : never }[keyof R];
type ElementOf<A> = A extends readonly (infer E)[] ? E : never;

/** One unary RPC: call it with the request (a partial message: missing fields take their
 * defaults). Rejects with a VigilError. */
export interface UnaryMethod<Req, Res> {
  (request?: DeepPartial<Req>, options?: CallOptions): Promise<Res>;
  readonly fullName: string;
}

/** A List RPC: also pages() (each response, following nextPageToken) and items() (every element
 * across pages; `field` names the list when the response has several). */
export interface PagedMethod<Req, Res> extends UnaryMethod<Req, Res> {
  pages(request?: DeepPartial<Req>, options?: PageOptions): AsyncGenerator<Res, void, undefined>;
  items<K extends ListFields<Res> = ListFields<Res>>(
    request?: DeepPartial<Req>, options?: PageOptions & { field?: K }):
    AsyncGenerator<ElementOf<Res[K]>, void, undefined>;
}

/** A server-streaming RPC: iterate over the returned ResponseStream. */
export interface StreamMethod<Req, Res> {
  (request?: DeepPartial<Req>, options?: CallOptions): ResponseStream<Res>;
  readonly fullName: string;
}

export type ServiceClient<D extends { methods: Record<string, unknown> }> = {
  [K in keyof D["methods"]]: D["methods"][K] extends { responseStream: true }
    ? StreamMethod<RequestOf<D["methods"][K]>, ResponseOf<D["methods"][K]>>
    : RequestOf<D["methods"][K]> extends { page?: unknown }
      ? ResponseOf<D["methods"][K]> extends { nextPageToken: string }
        ? PagedMethod<RequestOf<D["methods"][K]>, ResponseOf<D["methods"][K]>>
        : UnaryMethod<RequestOf<D["methods"][K]>, ResponseOf<D["methods"][K]>>
      : UnaryMethod<RequestOf<D["methods"][K]>, ResponseOf<D["methods"][K]>>;
};

/** The responses of a server stream, as an async iterable (once). Errors are VigilErrors;
 * cancel() ends it from anywhere (the iteration then throws Cancelled). */
export class ResponseStream<T> implements AsyncIterable<T> {
  private call?: grpc.ClientReadableStream<T>;
  private cancelled = false;
  private readonly started: Promise<grpc.ClientReadableStream<T>>;
  /** The server's initial metadata; undefined if the call failed first. */
  readonly metadata: Promise<grpc.Metadata | undefined>;

  constructor(start: () => Promise<grpc.ClientReadableStream<T>>,
              private readonly mapError: (err: Error) => VigilError) {
    this.started = start().then((call) => {
      this.call = call;
      if (this.cancelled) call.cancel();
      return call;
    });
    this.metadata = this.started.then((call) => new Promise<grpc.Metadata | undefined>((resolve) => {
      call.once("metadata", resolve);
      call.once("status", () => resolve(undefined));
      call.once("error", () => resolve(undefined));
    }), () => undefined);
  }

  cancel(): void {
    this.cancelled = true;
    this.call?.cancel();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let call: grpc.ClientReadableStream<T>;
    try {
      call = await this.started;
    } catch (err) {
      throw this.mapError(err as Error);
    }
    try {
      for await (const message of call) yield message as T;
    } catch (err) {
      throw this.mapError(err as Error);
    } finally {
      call.cancel(); // a consumer that stops early ends the call
    }
  }
}

/** Client attribute -> service definition. */
const SERVICES = {
  offenders: OffenderServiceDefinition,
  assessments: AssessmentServiceDefinition,
  visits: VisitServiceDefinition,
  referrals: ReferralServiceDefinition,
  alerts: AlertServiceDefinition,
  backlog: BacklogServiceDefinition,
  audit: AuditServiceDefinition,
  admin: AdminServiceDefinition,
  obligations: ObligationFeedDefinition,
} as const;

export interface ClientOptions {
  /** "host:port" (or any gRPC target). */
  address: string;
  /** TLS: true for the system's roots, or the CA and client certificate (files or PEM). Without
   * it the connection is plaintext, which is allowed only to a loopback address. */
  tls?: boolean | TlsOptions;
  /** A bearer token sent as `authorization: Bearer ...`: a string, or a function asked on
   * every call (refresh there). */
  token?: TokenProvider;
  /** A file holding the bearer token, read on every call (so a rotated token is picked up). */
  tokenFile?: string;
  /** A JWT whose exp is more than this many seconds past is refused before sending. Default 60. */
  tokenLeewaySeconds?: number;
  /** x-vigil-actor/-role/-force(/-team/-rank) for a vigild with --auth=dev. */
  devIdentity?: DevIdentity;
  /** The default x-vigil-purpose (per call: CallOptions.purpose). */
  purpose?: string;
  /** x-vigil-cross-team: the reason an officer reads another team's record. */
  crossTeam?: string;
  /** The default deadline of unary calls. Default 30000. */
  timeoutMs?: number;
  /** More grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

export function isLoopback(address: string): boolean {
  if (address.startsWith("unix:")) return true;
  let host = address.includes("///") ? address.split("///").pop()! : address;
  if (host.startsWith("[")) host = host.slice(1, host.indexOf("]"));
  else if (host.split(":").length === 2) host = host.split(":")[0]!;
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

/** A connection to one vigild and the credentials sent with every call. Every service is a
 * property (offenders, assessments, visits, referrals, alerts, backlog, audit, admin,
 * obligations) whose RPCs are the .proto names in lowerCamelCase. close() releases the channel.
 * Files are read when the Client is made: a missing or non-PEM one is ConfigurationError. */
export class Client {
  readonly address: string;
  readonly tls: boolean;
  readonly offenders: ServiceClient<typeof OffenderServiceDefinition>;
  readonly assessments: ServiceClient<typeof AssessmentServiceDefinition>;
  readonly visits: ServiceClient<typeof VisitServiceDefinition>;
  readonly referrals: ServiceClient<typeof ReferralServiceDefinition>;
  readonly alerts: ServiceClient<typeof AlertServiceDefinition>;
  readonly backlog: ServiceClient<typeof BacklogServiceDefinition>;
  readonly audit: ServiceClient<typeof AuditServiceDefinition>;
  readonly admin: ServiceClient<typeof AdminServiceDefinition>;
  readonly obligations: ServiceClient<typeof ObligationFeedDefinition>;
  private readonly grpc: grpc.Client;
  private readonly tokens: TokenSource;
  private readonly identity: [string, string][];

  constructor(private readonly options: ClientOptions) {
    if (!options.address) throw new ConfigurationError("address is required (host:port)");
    this.address = options.address;
    this.tokens = new TokenSource(options.token, options.tokenFile, options.tokenLeewaySeconds);
    this.identity = options.devIdentity ? devIdentityHeaders(options.devIdentity) : [];
    const channelOptions: grpc.ChannelOptions = {
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5000,
      ...options.channelOptions,
    };
    let credentials: grpc.ChannelCredentials;
    if (options.tls) {
      const tls: TlsOptions = options.tls === true ? {} : options.tls;
      if (!!tls.cert !== !!tls.key) {
        throw new ConfigurationError("TLS: a client certificate needs both cert and key");
      }
      credentials = grpc.credentials.createSsl(
        tls.ca ? readPem("tls.ca", tls.ca, "CERTIFICATE") : null,
        tls.key ? readPem("tls.key", tls.key, "PRIVATE KEY") : null,
        tls.cert ? readPem("tls.cert", tls.cert, "CERTIFICATE") : null);
      if (tls.serverName) channelOptions["grpc.ssl_target_name_override"] = tls.serverName;
      this.tls = true;
    } else {
      if (!isLoopback(options.address)) {
        throw new ConfigurationError(`${options.address} is not a loopback address: plaintext is ` +
          "only for loopback; give tls: { ca } (the CA that signed vigild's certificate) or tls: true");
      }
      credentials = grpc.credentials.createInsecure();
      this.tls = false;
    }
    this.grpc = new grpc.Client(options.address, credentials, channelOptions);
    this.offenders = this.bind(SERVICES.offenders);
    this.assessments = this.bind(SERVICES.assessments);
    this.visits = this.bind(SERVICES.visits);
    this.referrals = this.bind(SERVICES.referrals);
    this.alerts = this.bind(SERVICES.alerts);
    this.backlog = this.bind(SERVICES.backlog);
    this.audit = this.bind(SERVICES.audit);
    this.admin = this.bind(SERVICES.admin);
    this.obligations = this.bind(SERVICES.obligations);
  }

  /** A Client configured as the vigil CLI is, from VIGIL_SERVER (default 127.0.0.1:7420),
   * VIGIL_TLS_CA, VIGIL_CERT, VIGIL_KEY, VIGIL_TLS_SERVER_NAME, VIGIL_TOKEN or VIGIL_TOKEN_FILE,
   * VIGIL_ACTOR + VIGIL_ROLE + VIGIL_FORCE (+ VIGIL_TEAM, VIGIL_RANK) and VIGIL_PURPOSE. */
  static fromEnv(overrides: Partial<ClientOptions> = {}, env = process.env): Client {
    const tls = env.VIGIL_TLS_CA || env.VIGIL_CERT
      ? { ca: env.VIGIL_TLS_CA, cert: env.VIGIL_CERT, key: env.VIGIL_KEY,
          serverName: env.VIGIL_TLS_SERVER_NAME }
      : undefined;
    return new Client({
      address: env.VIGIL_SERVER || "127.0.0.1:7420",
      tls,
      token: env.VIGIL_TOKEN || undefined,
      tokenFile: env.VIGIL_TOKEN_FILE || undefined,
      devIdentity: env.VIGIL_ACTOR
        ? { actor: env.VIGIL_ACTOR, role: (env.VIGIL_ROLE ?? "") as DevIdentity["role"],
            force: env.VIGIL_FORCE ?? "", team: env.VIGIL_TEAM, rank: env.VIGIL_RANK }
        : undefined,
      purpose: env.VIGIL_PURPOSE || undefined,
      ...overrides,
    });
  }

  /** An AlertSubscription: AlertService.Subscribe resuming after the last event it delivered
   * across reconnects, and from cursorFile across restarts. */
  subscribeAlerts(options: SubscribeOptions = {}): AlertSubscription {
    return new AlertSubscription(this, options);
  }

  /** Resolves once connected; Unreachable after timeoutMs. */
  waitReady(timeoutMs = 10000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.grpc.waitForReady(Date.now() + timeoutMs, (err) => err
        ? reject(new Unreachable(`no connection to vigild at ${this.address} within ${timeoutMs} ms`))
        : resolve());
    });
  }

  close(): void {
    this.grpc.close();
  }

  private connected(): boolean {
    return this.grpc.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  /** @internal */
  mapError(err: Error, rpc: string): VigilError {
    return fromServiceError(err, { rpc, address: this.address, connected: this.connected() });
  }

  private async metadata(options: CallOptions): Promise<grpc.Metadata> {
    const md = new grpc.Metadata();
    for (const [k, v] of this.identity) md.set(k, v);
    if (this.tokens.configured) md.set("authorization", `Bearer ${await this.tokens.get()}`);
    const purpose = options.purpose ?? this.options.purpose;
    if (purpose) md.set("x-vigil-purpose", purpose);
    if (this.options.crossTeam) md.set("x-vigil-cross-team", this.options.crossTeam);
    for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
    return md;
  }

  private deadline(options: CallOptions, unary: boolean): grpc.CallOptions {
    const ms = options.timeoutMs === undefined
      ? (unary ? this.options.timeoutMs ?? 30000 : null)
      : options.timeoutMs;
    return ms === null ? {} : { deadline: Date.now() + ms };
  }

  private bind<D extends ServiceDefinition>(service: D): ServiceClient<D> {
    const bound: Record<string, unknown> = {};
    for (const [key, method] of Object.entries(service.methods)) {
      const fullName = `${service.fullName}/${method.name}`;
      const path = `/${fullName}`;
      const serialize = (value: unknown) => Buffer.from(method.requestType.encode(value).finish());
      const deserialize = (bytes: Buffer) => method.responseType.decode(bytes);
      if (method.responseStream) {
        const call = (request: unknown = {}, options: CallOptions = {}) =>
          new ResponseStream<unknown>(async () => {
            const md = await this.metadata(options);
            const stream = this.grpc.makeServerStreamRequest(path, serialize, deserialize,
              method.requestType.fromPartial(request), md, this.deadline(options, false));
            options.signal?.addEventListener("abort", () => stream.cancel(), { once: true });
            return stream;
          }, (err) => this.mapError(err, fullName));
        bound[key] = Object.assign(call, { fullName });
        continue;
      }
      const call = async (request: unknown = {}, options: CallOptions = {}) => {
        const md = await this.metadata(options);
        return new Promise((resolve, reject) => {
          const c = this.grpc.makeUnaryRequest(path, serialize, deserialize,
            method.requestType.fromPartial(request), md, this.deadline(options, true),
            (err, value) => (err ? reject(this.mapError(err, fullName)) : resolve(value)));
          options.signal?.addEventListener("abort", () => c.cancel(), { once: true });
        });
      };
      const empty = method.responseType.fromPartial({});
      const paged = "page" in method.requestType.fromPartial({}) && "nextPageToken" in empty;
      if (!paged) {
        bound[key] = Object.assign(call, { fullName });
        continue;
      }
      const lists = Object.keys(empty).filter((k) => Array.isArray(empty[k]));
      async function* pages(request: any = {}, options: PageOptions = {}) {
        const req = method.requestType.fromPartial(request);
        if (options.pageSize !== undefined) req.page = { ...req.page, pageSize: options.pageSize };
        for (;;) {
          const response: any = await call(req, options);
          yield response;
          if (!response.nextPageToken) return;
          req.page = { ...req.page, pageToken: response.nextPageToken };
        }
      }
      async function* items(request: any = {}, options: PageOptions & { field?: string } = {}) {
        const field = options.field ?? (lists.length === 1 ? lists[0] : undefined);
        if (!field) {
          throw new ConfigurationError(`${fullName}: name the list to follow with field ` +
            `(one of ${lists.join(", ")})`);
        }
        for await (const page of pages(request, options)) yield* page[field];
      }
      bound[key] = Object.assign(call, { fullName, pages, items });
    }
    return bound as ServiceClient<D>;
  }
}
