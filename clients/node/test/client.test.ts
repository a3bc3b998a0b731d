// End to end: @vigil/client against a real vigild on 127.0.0.1 with a free port: with
// --auth=dev, and over TLS with a client certificate (--auth=mtls) or a bearer token
// (--auth=jwt), the TLS material and tokens made by the real `vigil certs` and `vigil token`.
// VIGILD names the binary (default: the repository's build/services/vigild/vigild), VIGIL the
// CLI (default: the one in the same build).
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  Client, ConfigurationError, FailedPrecondition, NotFound, TlsHandshakeFailed, TokenExpired,
  Unauthenticated, Unavailable, Unreachable, VigilError, jwtExpiry, v1,
} from "../src/index";
import { VigildProcess, tempDir, vigilCli } from "./vigild";

const SUPERVISOR = { actor: "DS Holt", role: "supervisor", force: "wessex" } as const;

/** `count` referrals received in 2023 and never triaged: each owes its triage long ago, so
 * vigild raises one alert for each as soon as it is created. */
async function makeReferrals(client: Client, tag: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const referral = await client.referrals.createReferral({
      referral: {
        source: v1.ReferralSource.REFERRAL_SOURCE_NCA_CEOP,
        sourceReference: `${tag}-${i}`,
        receivedTime: new Date(Date.UTC(2023, i % 9, 10 + (i % 10), 9)),
        subjectDisplayName: `Subject ${tag} ${i}`,
      },
      requestId: `${tag}-${i}`,
    });
    ids.push(referral.id);
  }
  return ids;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("client against vigild", () => {
  let vigild: VigildProcess;
  let client: Client;

  before(async () => {
    vigild = new VigildProcess(tempDir("calls"));
    await vigild.start();
    client = new Client({ address: vigild.address, devIdentity: SUPERVISOR,
                          purpose: "node client e2e", timeoutMs: 30000 });
  });

  after(async () => {
    client.close();
    assert.equal(await vigild.stop(), 0, `vigild's exit code; see ${vigild.dir}/vigild.log`);
    vigild.remove();
  });

  it("creates an offender and gets it back", async () => {
    const alan = {
      displayName: "Alan Example", visorRef: "VISOR-NODE-1", ownerOfficer: "DC 100",
      team: "north", registeredTime: new Date("2024-03-01T10:00:00Z"),
      notificationPeriod: v1.NotificationPeriod.NOTIFICATION_PERIOD_INDEFINITE,
    };
    const created = await client.offenders.createOffender({ offender: alan, requestId: "create-alan" });
    assert.ok(created.id);
    assert.equal(created.force, "wessex");
    assert.equal(created.status, v1.OffenderStatus.OFFENDER_STATUS_ACTIVE_COMMUNITY);
    assert.ok(created.obligations.length > 0, "a new registration opens its clocks");

    const got = await client.offenders.getOffender({ id: created.id });
    assert.equal(got.displayName, "Alan Example");
    assert.equal(got.visorRef, "VISOR-NODE-1");
    assert.equal(got.registeredTime?.toISOString(), "2024-03-01T10:00:00.000Z");

    const again = await client.offenders.createOffender({ offender: alan, requestId: "create-alan" });
    assert.equal(again.id, created.id, "a retry with the same requestId writes nothing");
    // The same requestId with another request is refused, naming the fix.
    await assert.rejects(
      client.offenders.createOffender({ offender: created, requestId: "create-alan" }),
      (e: unknown) => e instanceof FailedPrecondition && /use a new request_id/.test(String(e)));
  });

  it("follows every page of a list", async () => {
    const made = new Set<string>();
    for (let i = 0; i < 7; i++) {
      const o = await client.offenders.createOffender({ offender: {
        displayName: `Paged ${i}`, ownerOfficer: "DC 7", team: "paging",
        registeredTime: new Date(Date.UTC(2024, 0, 1 + i)) } });
      made.add(o.id);
    }
    const sizes: number[] = [];
    let lastToken: string | undefined;
    for await (const page of client.offenders.listOffenders.pages({ team: "paging" }, { pageSize: 3 })) {
      sizes.push(page.offenders.length);
      lastToken = page.nextPageToken;
    }
    assert.deepEqual(sizes, [3, 3, 1]);
    assert.equal(lastToken, "");
    const listed: string[] = [];
    for await (const o of client.offenders.listOffenders.items({ team: "paging" }, { pageSize: 3 })) {
      listed.push(o.id);
    }
    assert.equal(new Set(listed).size, listed.length, "no offender twice");
    assert.deepEqual(new Set(listed), made);
    assert.deepEqual(listed, [...listed].sort(), "id order");
  });

  it("maps an unknown offender to NotFound", async () => {
    const error = await client.offenders.getOffender({ id: "RSO-NOBODY" }).then(
      () => assert.fail("no error"), (e: unknown) => e);
    assert.ok(error instanceof NotFound);
    assert.ok(error instanceof VigilError);
    assert.equal(error.rpc, "vigil.v1.OffenderService/GetOffender");
    assert.match(error.details, /RSO-NOBODY/);
  });

  it("is Unauthenticated without an identity", async () => {
    const anonymous = new Client({ address: vigild.address, purpose: "no identity" });
    try {
      await assert.rejects(anonymous.offenders.getOffender({ id: "RSO-1" }),
        (e: unknown) => e instanceof Unauthenticated && /x-vigil-actor/.test(e.details));
    } finally {
      anonymous.close();
    }
  });

  it("fails fast with Unreachable when nothing listens", async () => {
    const port = await closedPort();
    const nowhere = new Client({ address: `127.0.0.1:${port}`, devIdentity: SUPERVISOR, timeoutMs: 30000 });
    const started = Date.now();
    try {
      await assert.rejects(nowhere.offenders.getOffender({ id: "RSO-1" }), (e: unknown) =>
        e instanceof Unreachable && e instanceof Unavailable && e.message.includes(`127.0.0.1:${port}`));
    } finally {
      nowhere.close();
    }
    assert.ok(Date.now() - started < 5000, "refused connections fail at once, not at the deadline");
  });

  it("refuses an expired token before sending", async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const expired = [b64({ alg: "ES256", typ: "JWT" }),
      b64({ sub: "DC 100", exp: Math.floor(Date.now() / 1000) - 3600 }), "c2ln"].join(".");
    const withToken = new Client({ address: vigild.address, token: async () => expired });
    try {
      await assert.rejects(withToken.offenders.getOffender({ id: "RSO-1" }), (e: unknown) =>
        e instanceof TokenExpired && e instanceof Unauthenticated && /expired at/.test(e.message));
    } finally {
      withToken.close();
    }
  });

  it("refuses bad options when the client is made", () => {
    assert.throws(() => new Client({ address: "vigil.example.org:443" }), ConfigurationError);
    assert.throws(() => new Client({ address: "vigil.example.org:443",
                                     tls: { ca: join(vigild.dir, "missing-ca.crt") } }), ConfigurationError);
    const notPem = join(vigild.dir, "not-a-ca.crt");
    writeFileSync(notPem, "not a certificate\n");
    assert.throws(() => new Client({ address: "vigil.example.org:443", tls: { ca: notPem } }),
      ConfigurationError);
    assert.throws(() => new Client({ address: "127.0.0.1:1",
      devIdentity: { actor: "DC 1", role: "constable" as "officer", force: "wessex" } }), ConfigurationError);
  });
});

describe("TLS and tokens", () => {
  let dir: string;
  let pki: string;
  let ca: string;
  let otherCa: string;
  let keys: string;
  let mtls: VigildProcess;
  let jwt: VigildProcess;

  const token = (ttlSeconds = 600, force = "wessex") => vigilCli("token", "dev",
    "--key", join(keys, "token-signing.key"), "--actor", "DC 100", "--role", "officer",
    "--force", force, "--team", "north", "--ttl-seconds", String(ttlSeconds)).trim();

  async function createAndGet(client: Client, tag: string): Promise<v1.Offender> {
    const created = await client.offenders.createOffender({ requestId: `tls-${tag}`, offender: {
      displayName: `TLS ${tag}`, ownerOfficer: "DC 100", team: "north",
      registeredTime: new Date("2024-03-01T10:00:00Z") } });
    assert.equal((await client.offenders.getOffender({ id: created.id })).displayName, `TLS ${tag}`);
    return created;
  }

  before(async () => {
    dir = tempDir("tls");
    pki = join(dir, "pki");
    vigilCli("certs", "create-ca", "--dir", pki);
    vigilCli("certs", "create-server", "--dir", pki, "--host", "127.0.0.1");
    vigilCli("certs", "create-client", "--dir", pki, "--actor", "DS Holt", "--role", "supervisor",
      "--force", "wessex", "--team", "north", "--rank", "sergeant");
    ca = join(pki, "ca.crt");
    vigilCli("certs", "create-ca", "--dir", join(dir, "other-pki"));
    otherCa = join(dir, "other-pki", "ca.crt");
    keys = join(dir, "tokens");
    vigilCli("token", "create-key", "--dir", keys);
    const tls = ["--tls-cert", join(pki, "server.crt"), "--tls-key", join(pki, "server.key")];
    mtls = new VigildProcess(join(dir, "mtls"), ["--auth=mtls", ...tls, "--tls-client-ca", ca]);
    await mtls.start();
    // No leeway on exp, so that a token a second past its expiry is refused at once.
    jwt = new VigildProcess(join(dir, "jwt"), ["--auth=jwt", ...tls, "--jwks", join(keys, "jwks.json"),
      "--jwt-issuer", "vigil-dev", "--jwt-audience", "vigil", "--jwt-leeway-seconds", "0"]);
    await jwt.start();
  });

  after(async () => {
    const codes = [await mtls?.stop(), await jwt?.stop()];  // set unless before() failed
    assert.deepEqual(codes, [0, 0], `vigild's exit codes; see ${dir}/*/vigild.log`);
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the identity from a client certificate (mtls)", async () => {
    const client = new Client({ address: mtls.address, purpose: "node tls e2e", tls: {
      ca, cert: join(pki, "client.ds-holt.crt"), key: join(pki, "client.ds-holt.key") } });
    try {
      assert.equal(client.tls, true);
      const created = await createAndGet(client, "mtls");
      assert.equal(created.force, "wessex", "the force comes from the certificate's O");
    } finally {
      client.close();
    }
  });

  it("is refused by an mtls vigild without a client certificate", async () => {
    // vigild refuses the handshake ("peer did not return a certificate" in its log). Under TLS
    // 1.3 the client's side is done by then and it sees the connection drop: Unreachable.
    const client = new Client({ address: mtls.address, tls: { ca }, timeoutMs: 10000,
      devIdentity: { actor: "DS Holt", role: "supervisor", force: "wessex" } });
    try {
      await assert.rejects(client.offenders.getOffender({ id: "RSO-1" }), (e: unknown) =>
        e instanceof Unreachable && e.message.includes(mtls.address));
    } finally {
      client.close();
    }
  });

  it("takes the identity from a bearer token (jwt)", async () => {
    const client = new Client({ address: jwt.address, tls: { ca }, token: token(),
                                purpose: "node token e2e" });
    let created: v1.Offender;
    try {
      created = await createAndGet(client, "jwt");
      assert.equal(created.force, "wessex", "the force comes from the token");
    } finally {
      client.close();
    }
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, token(600, "eastshire") + "\n");
    const eastshire = new Client({ address: jwt.address, tls: { ca }, tokenFile,
                                   purpose: "node token e2e" });
    try {
      await assert.rejects(eastshire.offenders.getOffender({ id: created.id }), NotFound);
    } finally {
      eastshire.close();
    }
  });

  it("is Unauthenticated without a token", async () => {
    const client = new Client({ address: jwt.address, tls: { ca }, purpose: "node token e2e" });
    try {
      await assert.rejects(client.offenders.getOffender({ id: "RSO-1" }), (e: unknown) =>
        e instanceof Unauthenticated && /no bearer token/.test(e.details));
    } finally {
      client.close();
    }
  });

  it("reports TlsHandshakeFailed for a CA that did not sign vigild's certificate", async () => {
    const client = new Client({ address: jwt.address, tls: { ca: otherCa }, token: token(),
                                timeoutMs: 10000 });
    const started = Date.now();
    try {
      await assert.rejects(client.offenders.getOffender({ id: "RSO-1" }), (e: unknown) =>
        e instanceof TlsHandshakeFailed && e instanceof Unreachable && e.message.includes(jwt.address));
    } finally {
      client.close();
    }
    assert.ok(Date.now() - started < 5000, "a refused handshake fails at once");
  });

  it("is refused by vigild, not the client, with an expired token", async () => {
    const expired = token(1);
    const exp = jwtExpiry(expired)!;
    await new Promise((r) => setTimeout(r, Math.max(0, (exp + 1.2) * 1000 - Date.now())));
    // The client's own check would let it through for an hour: vigild is the one refusing.
    const client = new Client({ address: jwt.address, tls: { ca }, token: expired,
                                tokenLeewaySeconds: 3600, purpose: "node token e2e" });
    try {
      await assert.rejects(client.offenders.getOffender({ id: "RSO-1" }), (e: unknown) =>
        e instanceof Unauthenticated && !(e instanceof TokenExpired) &&
        /token: expired at/.test(e.details));
    } finally {
      client.close();
    }
  });
});

describe("alert subscription", () => {
  it("delivers every event once across vigild and subscriber restarts", async () => {
    const vigild = new VigildProcess(tempDir("subscription"));
    await vigild.start();
    const client = new Client({ address: vigild.address, devIdentity: SUPERVISOR,
                                purpose: "node subscription e2e", timeoutMs: 30000 });
    const cursorFile = join(vigild.dir, "alerts.cursor");
    const storedCursor = () => Number(readFileSync(cursorFile, "utf8"));
    const seen: [number, v1.AlertEventType, string][] = [];
    const raisedFor = new Set<string>();
    const record = (e: v1.AlertEvent) => {
      seen.push([e.sequence, e.type, e.alert?.id ?? ""]);
      if (e.type === v1.AlertEventType.ALERT_EVENT_TYPE_RAISED) raisedFor.add(e.alert!.obligation!.subjectId);
    };
    const covers = (ids: Iterable<string>) => [...ids].every((id) => raisedFor.has(id));
    try {
      // (a) A subscriber reads until it has seen the first alerts, then stops cleanly.
      const first = await makeReferrals(client, "first", 3);
      const a = client.subscribeAlerts({ cursorFile });
      for await (const event of a) {
        record(event);
        if (covers(first)) break;
      }
      a.close();
      assert.equal(storedCursor(), seen.at(-1)![0]);

      // (b) Alerts raised while nobody listens. A new subscriber (same cursor file) takes one
      // event, then vigild is stopped with SIGTERM and started on the same port and data: the
      // rest arrive after a reconnect, with more raised after the restart. run() commits each.
      const away = await makeReferrals(client, "away", 4);
      const reconnects: VigilError[] = [];
      const b = client.subscribeAlerts({ cursorFile, maxBackoffMs: 500,
                                         onReconnect: (error) => reconnects.push(error) });
      let later: string[] | undefined;
      await b.run(async (event) => {
        record(event);
        if (!later) {
          await vigild.restart();
          await client.waitReady(30000);
          later = await makeReferrals(client, "later", 3);
        }
        if (covers([...first, ...away, ...later])) b.close();
      });
      assert.ok(reconnects.length > 0, "the subscription reconnected after the restart");
      assert.ok(reconnects.every((e) => e instanceof Unavailable), String(reconnects));
      assert.equal(storedCursor(), seen.at(-1)![0]);

      // (c) One more alert: a subscriber resuming from the cursor file gets exactly it next.
      const [last] = await makeReferrals(client, "last", 1);
      const c = client.subscribeAlerts({ cursorFile });
      const next = await c.next();
      c.close();
      assert.ok(!next.done);
      record(next.value);
      assert.equal(next.value.alert?.obligation?.subjectId, last);

      // Every sequence once, in order, from 1, none missing; one RAISED per alert.
      const sequences = seen.map(([s]) => s);
      assert.deepEqual(sequences, sequences.map((_, i) => i + 1));
      const raised = seen.filter(([, t]) => t === v1.AlertEventType.ALERT_EVENT_TYPE_RAISED).map(([, , id]) => id);
      assert.equal(new Set(raised).size, raised.length);
      assert.deepEqual(raisedFor, new Set([...first, ...away, ...later!, last!]));

      // And it is what one uninterrupted reading of the feed from 0 gives.
      const reference: typeof seen = [];
      const stream = client.alerts.subscribe({ resumeAfterSequence: 0 }, { timeoutMs: 30000 });
      for await (const e of stream) {
        reference.push([e.sequence, e.type, e.alert?.id ?? ""]);
        if (e.sequence === sequences.at(-1)) break;
      }
      assert.deepEqual(reference, seen);

      // SubscribeBatches through the same subscription: the same events, then the cursor.
      const batchedCursor = join(vigild.dir, "batched.cursor");
      const batched: typeof seen = [];
      const d = client.subscribeAlerts({ batches: true, cursorFile: batchedCursor });
      for await (const e of d) {
        batched.push([e.sequence, e.type, e.alert?.id ?? ""]);
        if (e.sequence === sequences.at(-1)) break;
      }
      d.commit();
      assert.deepEqual(batched, seen);
      assert.equal(Number(readFileSync(batchedCursor, "utf8")), sequences.at(-1));
      client.close();
      assert.equal(await vigild.stop(), 0);
      vigild.remove();
    } finally {
      client.close();
      await vigild.stop();
    }
  });
});
