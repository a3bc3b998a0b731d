// @vigil/client: a client for vigil's gRPC API (package vigil.v1) over @grpc/grpc-js.
export { Client, ResponseStream, isLoopback } from "./client";
export type { CallOptions, ClientOptions, DeepPartial, PageOptions, PagedMethod, ServiceClient,
              StreamMethod, UnaryMethod } from "./client";
export { AlertSubscription, CursorFile } from "./subscription";
export type { SubscribeOptions } from "./subscription";
export { ROLES, jwtExpiry } from "./auth";
export type { DevIdentity, Role, TlsOptions, TokenProvider } from "./auth";
export * from "./errors";
export { API_VERSION, VERSION } from "./version";
export * as v1 from "./gen/v1";
