#!/usr/bin/python3
"""#19's "Done when", on this machine: three vigild shards (wessex, mercia, northumbria), each
with its own data directory, TLS and --auth=jwt; Debian's HAProxy in front with
deploy/haproxy/haproxy.cfg, the production file (TLS both sides, routing by the verified token's
force, and a national body's token to the national backlog); and the national backlog
(`vigild --services=national-backlog --shards ...`) reaching the shards directly with its
service certificate.

- each force's client reaches its own shard through the proxy, and only it;
- the national summary equals the sum of the three shards' own summaries, force by force;
- kill -9 of one shard: within its deadline the national answer is partial and names the
  missing force, while calls to the live shards through the proxy never fail;
- the shard restarted on its data: the national answer is whole again, with the same figures;
- national roles only: a force's supervisor is refused, an HMICFRS inspector sees no names.

Certificates come from the openssl CLI (haproxy_test's Pki); tokens and their JWKS from
`vigil token`. The shards' ports are chosen free at start and kept across the restart.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import haproxy_test  # noqa: E402  (Pki, HAProxy, listener)

ARGS = None
ROOT = os.path.dirname(os.path.dirname(HERE))
PROD_CFG = os.path.join(ROOT, "deploy/haproxy/haproxy.cfg")
FORCES_MAP = os.path.join(ROOT, "deploy/haproxy/forces.map")
FORCES = ("mercia", "northumbria", "wessex")
# Offenders registered in each force: their obligations are overdue by now.
SEED = {"wessex": 3, "mercia": 5, "northumbria": 2}
DEADLINE_S = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port_file(proc, path, log):
    deadline = time.monotonic() + 60
    while not os.path.exists(path) or not haproxy_test.read(path).strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("vigild did not start; see %s" % log)
        time.sleep(0.02)
    return int(haproxy_test.read(path).strip())


class Vigild:
    """One vigild process; restart() starts it again on the same data and port."""

    def __init__(self, directory, name, args):
        self.dir, self.name, self.args = directory, name, args
        self.proc = None
        self.port_file = os.path.join(directory, name + ".port")
        self.starts = 0
        self.start()

    def start(self):
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.starts += 1
        self.log_path = os.path.join(self.dir, "%s.%d.log" % (self.name, self.starts))
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([ARGS.vigild, "--port-file", self.port_file] + self.args,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.port = wait_for_port_file(self.proc, self.port_file, self.log_path)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(timeout=60)
        else:
            code = self.proc.returncode
        self.log.close()
        return code


class NationalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.stubs)
        import grpc
        from google.protobuf import timestamp_pb2
        from vigil.v1 import audit_pb2, audit_pb2_grpc, backlog_pb2, backlog_pb2_grpc
        from vigil.v1 import rso_pb2, rso_pb2_grpc
        cls.audit_pb2, cls.audit_pb2_grpc = audit_pb2, audit_pb2_grpc
        cls.grpc, cls.timestamp_pb2 = grpc, timestamp_pb2
        cls.backlog_pb2, cls.backlog_pb2_grpc = backlog_pb2, backlog_pb2_grpc
        cls.rso_pb2, cls.rso_pb2_grpc = rso_pb2, rso_pb2_grpc
        haproxy_test.ARGS = ARGS

        cls.dir = tempfile.mkdtemp(prefix="vigil-national-test.")
        cls.pki = pki = haproxy_test.Pki(cls.dir)
        # Tokens: an ES256 key and its JWKS from `vigil token`, its public key for HAProxy.
        tokens = os.path.join(cls.dir, "tokens")
        haproxy_test.run(ARGS.vigil, "token", "create-key", "--dir", tokens)
        cls.token_key = os.path.join(tokens, "token-signing.key")
        cls.jwks = os.path.join(tokens, "jwks.json")
        issuer_pem = os.path.join(cls.dir, "issuer.pem")
        haproxy_test.run("openssl", "pkey", "-in", cls.token_key, "-pubout", "-out", issuer_pem)

        def private(crt_key):
            os.chmod(crt_key[1], 0o600)
            return crt_key

        identity = ["--auth", "jwt", "--jwks", cls.jwks, "--jwt-issuer", "vigil-dev",
                    "--jwt-audience", "vigil", "--tls-client-ca", pki.ca,
                    "--read-rate", "1000", "--read-burst", "10000"]
        cls.shards = {}
        for force in FORCES:
            crt, key = private(pki.issue(
                "shard-" + force, "/CN=vigild-" + force,
                sans=("DNS:vigild-%s.vigil.svc" % force, "DNS:localhost", "IP:127.0.0.1")))
            cls.shards[force] = Vigild(cls.dir, force, [
                "--data-dir", os.path.join(cls.dir, force), "--listen",
                "127.0.0.1:%d" % free_port(), "--tls-cert", crt, "--tls-key", key] + identity)

        # The national backlog: its own server certificate, and a client certificate with role
        # `service` for its calls to the shards.
        crt, key = private(pki.issue("national", "/CN=vigil-national-backlog",
                                     sans=("DNS:vigil-national-backlog.vigil.svc",
                                           "DNS:localhost", "IP:127.0.0.1")))
        peer_crt, peer_key = private(pki.issue(
            "national-service", "/CN=national backlog/O=national/role=service", client=True))
        cls.health_port = free_port()
        cls.national = Vigild(cls.dir, "national", [
            "--services", "national-backlog,audit", "--data-dir", os.path.join(cls.dir, "national"),
            "--listen", "127.0.0.1:0", "--tls-cert", crt, "--tls-key", key,
            "--shards", ",".join("%s=127.0.0.1:%d" % (f, s.port) for f, s in cls.shards.items()),
            "--shard-deadline", "%gs" % DEADLINE_S,
            "--peer-tls-ca", pki.ca, "--peer-cert", peer_crt, "--peer-key", peer_key,
            "--health-listen", "127.0.0.1:%d" % cls.health_port] + identity)

        # The proxy: haproxy.cfg itself, TLS to each shard checked against its name.
        cls.tls_dir = os.path.join(cls.dir, "proxy-tls")
        os.mkdir(cls.tls_dir)
        crt, key = pki.issue("proxy", "/CN=localhost", sans=("DNS:localhost", "IP:127.0.0.1"))
        pki.pem_bundle(os.path.join(cls.tls_dir, "server.pem"), crt, key)
        shutil.copy(pki.ca, os.path.join(cls.tls_dir, "client-ca.crt"))
        grpc_sock, health_sock = haproxy_test.listener(), haproxy_test.listener()
        env = {"VIGIL_PROXY_TLS_DIR": cls.tls_dir, "VIGIL_JWT_KEY": issuer_pem,
               "VIGIL_FORCES_MAP": FORCES_MAP, "VIGIL_SHARD_CA": pki.ca}
        env.update({"SHARD_" + f.upper(): "127.0.0.1:%d" % s.port for f, s in cls.shards.items()})
        env["NATIONAL_BACKLOG"] = "127.0.0.1:%d" % cls.national.port
        cls.proxy = haproxy_test.HAProxy(cls.dir, "haproxy", PROD_CFG, env,
                                         {"VIGIL_PROXY_BIND": grpc_sock,
                                          "VIGIL_PROXY_HEALTH_BIND": health_sock})
        cls.proxy_port = grpc_sock.getsockname()[1]
        grpc_sock.close()
        health_sock.close()

        cls.channels = []
        cls.proxy_channel = cls.channel(cls.proxy_port)
        cls.seed()

    @classmethod
    def tearDownClass(cls):
        for channel in cls.channels:
            channel.close()
        cls.proxy.stop()
        codes = {"national": cls.national.stop()}
        for force, shard in cls.shards.items():
            codes[force] = shard.stop()
        assert all(c == 0 for c in codes.values()), codes
        shutil.rmtree(cls.dir)

    # --- helpers ---

    @classmethod
    def channel(cls, port):
        creds = cls.grpc.ssl_channel_credentials(
            root_certificates=haproxy_test.read(cls.pki.ca, "rb"))
        channel = cls.grpc.secure_channel("localhost:%d" % port, creds)
        cls.channels.append(channel)
        return channel

    @classmethod
    def token(cls, actor, role, force):
        return haproxy_test.run(ARGS.vigil, "token", "dev", "--key", cls.token_key, "--actor",
                                actor, "--role", role, "--force", force).stdout.strip()

    @classmethod
    def metadata(cls, token, purpose="national test"):
        return [("authorization", "Bearer " + token), ("x-vigil-purpose", purpose)]

    @classmethod
    def seed(cls):
        """Registers SEED[force] offenders in each force through the proxy, as its PPU system."""
        for force, count in SEED.items():
            token = cls.token(force + "-ppu", "system", force)
            stub = cls.rso_pb2_grpc.OffenderServiceStub(cls.proxy_channel)
            for i in range(count):
                stub.CreateOffender(cls.rso_pb2.CreateOffenderRequest(
                    offender=cls.rso_pb2.Offender(
                        display_name="Person %s %d" % (force, i), owner_officer="DC %d" % i,
                        team="MOSOVO %d" % (i % 2),
                        registered_time=cls.timestamp_pb2.Timestamp(seconds=1709287200)),
                    request_id="seed-%s-%d" % (force, i)),
                    metadata=cls.metadata(token), timeout=30)

    def force_summary(self, force, timeout=10):
        """The force's own summary, asked through the proxy by its supervisor."""
        token = self.token("PS %s" % force, "supervisor", force)
        return self.backlog_pb2_grpc.BacklogServiceStub(self.proxy_channel).GetBacklogSummary(
            self.backlog_pb2.GetBacklogSummaryRequest(), metadata=self.metadata(token),
            timeout=timeout)

    def national_summary(self, role="hmicfrs-inspector", actor="HMI Ward"):
        token = self.token(actor, role, "national")
        return self.backlog_pb2_grpc.BacklogServiceStub(self.proxy_channel).GetBacklogSummary(
            self.backlog_pb2.GetBacklogSummaryRequest(),
            metadata=self.metadata(token, "PEEL inspection"), timeout=DEADLINE_S + 5)

    def assertWhole(self, national, own):
        self.assertFalse(national.partial)
        self.assertEqual(list(national.missing_forces), [])
        self.assertEqual([s.force for s in national.by_force], sorted(FORCES))
        self.assertEqual(national.total, sum(s.total for s in own.values()))
        self.assertEqual(national.total_open, sum(s.total_open for s in own.values()))
        for part in national.by_force:
            self.assertEqual((part.total, part.total_open),
                             (own[part.force].total, own[part.force].total_open), part.force)

    # --- tests, in order: the shard kill comes last ---

    def test_1_each_force_reaches_only_its_own_shard_through_the_proxy(self):
        for force in FORCES:
            summary = self.force_summary(force)
            self.assertEqual(summary.force, force)
            self.assertGreater(summary.total, 0)
            token = self.token("PS %s" % force, "supervisor", force)
            offenders = self.rso_pb2_grpc.OffenderServiceStub(self.proxy_channel).ListOffenders(
                self.rso_pb2.ListOffendersRequest(), metadata=self.metadata(token), timeout=10)
            self.assertEqual(len(offenders.offenders), SEED[force])
            self.assertTrue(all(o.force == force for o in offenders.offenders))

    def test_2_national_summary_is_the_sum_of_the_shards(self):
        own = {f: self.force_summary(f) for f in FORCES}
        national = self.national_summary()
        self.assertWhole(national, own)
        self.assertEqual(national.oldest.subject_id, "")  # no personal data nationally
        self.assertEqual(national.oldest.owner_officer, "")
        self.assertIn(national.oldest.force, FORCES)
        self.assertWhole(self.national_summary(role="national-auditor", actor="NA 1"), own)

    def audit_records(self, actor, role, force, record_actor):
        """The audit records of `record_actor` that `actor` (an auditor of `force`) reads
        through the proxy: at the force's shard, or at the national backlog for `national`."""
        reply = self.audit_pb2_grpc.AuditServiceStub(self.proxy_channel).ListAuditRecords(
            self.audit_pb2.ListAuditRecordsRequest(actor=record_actor),
            metadata=self.metadata(self.token(actor, role, force), "audit check"), timeout=10)
        return list(reply.records)

    def test_2b_each_fan_out_is_audited_under_the_person_who_asked(self):
        purpose = "PEEL inspection"
        self.national_summary(actor="HMI Audited")
        # Each shard: its owners' records of what they disclosed name the inspector and role,
        # relayed by the national backlog (its service certificate) and then the shard's own
        # backlog context.
        for force in FORCES:
            records = self.audit_records(
                "Auditor %s" % force, "auditor", force,
                "HMI Audited (hmicfrs-inspector, national backlog)")
            self.assertTrue(records, force)
            self.assertEqual({(r.role, r.force, r.purpose) for r in records},
                             {("system", force, purpose)})
        # The national vigild: the inspector under their own role, with the forces that answered.
        records = self.audit_records("NA 1", "national-auditor", "national", "HMI Audited")
        summaries = [r for r in records if r.rpc.endswith("/GetBacklogSummary")]
        self.assertEqual(len(summaries), 1)
        self.assertEqual((summaries[0].role, summaries[0].purpose),
                         ("hmicfrs-inspector", purpose))
        self.assertEqual(sorted(summaries[0].subject_ids), ["force:" + f for f in FORCES])

    def test_3_only_national_roles_and_no_names(self):
        token = self.token("PS wessex", "supervisor", "wessex")
        # A force's supervisor asking the national backlog directly (the proxy would send a
        # wessex token to wessex's shard).
        stub = self.backlog_pb2_grpc.BacklogServiceStub(self.channel(self.national.port))
        with self.assertRaises(self.grpc.RpcError) as refused:
            stub.GetBacklogSummary(self.backlog_pb2.GetBacklogSummaryRequest(),
                                   metadata=self.metadata(token), timeout=10)
        self.assertEqual(refused.exception.code(), self.grpc.StatusCode.PERMISSION_DENIED)
        token = self.token("HMI Ward", "hmicfrs-inspector", "national")
        stub = self.backlog_pb2_grpc.BacklogServiceStub(self.proxy_channel)
        items = stub.ListBacklogItems(self.backlog_pb2.ListBacklogItemsRequest(),
                                      metadata=self.metadata(token), timeout=10)
        self.assertEqual(len(items.items), sum(s.total for s in map(self.force_summary, FORCES)))
        dues = [i.obligation.due_time.ToDatetime() for i in items.items]
        self.assertEqual(dues, sorted(dues))
        self.assertEqual({i.obligation.subject_id for i in items.items}, {""})
        self.assertEqual({i.obligation.force for i in items.items}, set(FORCES))
        with self.assertRaises(self.grpc.RpcError) as refused:
            stub.TakeBacklogSnapshot(self.backlog_pb2.TakeBacklogSnapshotRequest(),
                                     metadata=self.metadata(token), timeout=10)
        self.assertEqual(refused.exception.code(), self.grpc.StatusCode.PERMISSION_DENIED)

    def test_3b_probes_see_health_alone_in_plaintext(self):
        from vigil_grpc_std import health_pb2, health_pb2_grpc
        channel = self.grpc.insecure_channel("127.0.0.1:%d" % self.health_port)
        self.addCleanup(channel.close)
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="vigil.v1.BacklogService"), timeout=10)
        self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)
        with self.assertRaises(self.grpc.RpcError) as refused:
            self.backlog_pb2_grpc.BacklogServiceStub(channel).GetBacklogSummary(
                self.backlog_pb2.GetBacklogSummaryRequest(), timeout=10)
        self.assertEqual(refused.exception.code(), self.grpc.StatusCode.UNIMPLEMENTED)

    def test_4_a_killed_shard_makes_the_answer_partial_and_naming_it_then_whole_again(self):
        own = {f: self.force_summary(f) for f in FORCES}
        live = [f for f in FORCES if f != "mercia"]
        failures, calls = [], [0]
        stop = threading.Event()

        def keep_calling():
            # A client of each live force, calling its shard through the proxy all along.
            while not stop.is_set():
                for force in live:
                    try:
                        self.assertEqual(self.force_summary(force, timeout=5).total,
                                         own[force].total)
                        calls[0] += 1
                    except Exception as e:  # noqa: BLE001 - any failure is the finding
                        failures.append("%s: %s" % (force, e))
                time.sleep(0.05)

        caller = threading.Thread(target=keep_calling)
        caller.start()
        try:
            self.shards["mercia"].kill()
            start = time.monotonic()
            national = self.national_summary()
            elapsed = time.monotonic() - start
            self.assertTrue(national.partial)
            self.assertEqual(list(national.missing_forces), ["mercia"])
            self.assertLess(elapsed, DEADLINE_S + 1.0)
            self.assertEqual(national.total, sum(own[f].total for f in live))
            self.assertEqual([s.force for s in national.by_force], live)

            self.shards["mercia"].start()
            deadline = time.monotonic() + 20
            while True:
                national = self.national_summary()
                if not national.partial or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertWhole(national, own)
            # HAProxy takes the shard back after its health checks pass (a few seconds).
            deadline = time.monotonic() + 20
            while True:
                try:
                    self.assertEqual(self.force_summary("mercia").total, own["mercia"].total)
                    break
                except self.grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            stop.set()
            caller.join()
        self.assertEqual(failures, [])
        self.assertGreater(calls[0], 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--vigil", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    ARGS, rest = parser.parse_known_args()
    if not os.path.exists(ARGS.haproxy):
        print("SKIPPED: haproxy is not installed (apt-get install haproxy)")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
