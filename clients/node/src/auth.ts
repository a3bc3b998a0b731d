// How a Client proves who it is (docs/security.md): TLS material, bearer tokens and the
// development identity headers.
import { readFileSync } from "node:fs";
import { ConfigurationError, TokenExpired } from "./errors";

export const ROLES = [
  "officer", "supervisor", "force-admin", "auditor", "system", "service", "national-auditor",
  "hmicfrs-inspector",
] as const;
export type Role = (typeof ROLES)[number];

/** The identity a vigild started with --auth=dev trusts as sent: metadata x-vigil-actor,
 * x-vigil-role, x-vigil-force (and x-vigil-team, x-vigil-rank). Real authenticators (mtls, jwt)
 * ignore these headers. */
export interface DevIdentity {
  actor: string;
  role: Role;
  force: string;
  team?: string;
  rank?: string;
}

export function devIdentityHeaders(identity: DevIdentity): [string, string][] {
  if (!identity.actor || !identity.force) {
    throw new ConfigurationError("devIdentity: actor and force are required");
  }
  if (!(ROLES as readonly string[]).includes(identity.role)) {
    throw new ConfigurationError(`devIdentity: role '${identity.role}' is not one of ${ROLES.join(", ")}`);
  }
  const headers: [string, string][] = [["x-vigil-actor", identity.actor],
    ["x-vigil-role", identity.role], ["x-vigil-force", identity.force]];
  if (identity.team) headers.push(["x-vigil-team", identity.team]);
  if (identity.rank) headers.push(["x-vigil-rank", identity.rank]);
  return headers;
}

/** TLS to vigild. `ca`: the CA file (or PEM) that signed vigild's certificate (unset: the
 * system's roots); `cert` + `key`: a client certificate for mutual TLS (both or neither);
 * `serverName`: the name to check in the server's certificate instead of the address's host. */
export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  serverName?: string;
}

export function readPem(what: string, source: string | Buffer, label: string): Buffer {
  let data: Buffer;
  if (Buffer.isBuffer(source)) {
    data = source;
  } else if (source.includes("-----BEGIN ")) {
    data = Buffer.from(source);
  } else {
    try {
      data = readFileSync(source);
    } catch (err) {
      throw new ConfigurationError(`${what}: cannot read ${source}: ${(err as Error).message}`);
    }
  }
  if (!data.includes("-----BEGIN ") || !data.includes(label)) {
    throw new ConfigurationError(`${what}: ${Buffer.isBuffer(source) ? "the buffer" : source} holds no PEM ${label}`);
  }
  return data;
}

/** A bearer token: a string, a function returning one (sync or async; asked on every call, so
 * it can refresh), or read from a file on every call. */
export type TokenProvider = string | (() => string | Promise<string>);

export class TokenSource {
  constructor(private readonly token: TokenProvider | undefined,
              private readonly tokenFile: string | undefined,
              private readonly leewaySeconds = 60) {
    if (token !== undefined && tokenFile !== undefined) {
      throw new ConfigurationError("give token or tokenFile, not both");
    }
  }

  get configured(): boolean {
    return this.token !== undefined || this.tokenFile !== undefined;
  }

  /** The token for the next call. A JWT whose exp is more than the leeway (default 60 s, as
   * vigild's) in the past is refused with TokenExpired before anything is sent. */
  async get(): Promise<string> {
    let token: string;
    if (this.tokenFile !== undefined) {
      try {
        token = readFileSync(this.tokenFile, "utf8");
      } catch (err) {
        throw new ConfigurationError(`tokenFile: cannot read ${this.tokenFile}: ${(err as Error).message}`);
      }
    } else if (typeof this.token === "function") {
      token = await this.token();
    } else {
      token = this.token ?? "";
    }
    token = token.trim().replace(/^bearer\s+/i, "");
    if (!token) throw new ConfigurationError("the token provider gave an empty token");
    const exp = jwtExpiry(token);
    if (exp !== undefined && exp + this.leewaySeconds < Date.now() / 1000) {
      const when = new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
      throw new TokenExpired(`bearer token expired at ${when} (its exp claim); get a new token`);
    }
    return token;
  }
}

/** The exp claim of a JWT in seconds since the epoch; undefined when the token is not a JWT
 * or has no numeric exp. Nothing is verified: that is vigild's job. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
    return typeof claims?.exp === "number" ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}
