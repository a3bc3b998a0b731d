#!/usr/bin/python3
"""The gRPC proxy for real: Debian's HAProxy in front of two vigild shards (wessex, mercia), a
Python grpcio client over TLS, and each call's audit record showing which shard it reached.

- deploy/haproxy/haproxy.cfg, the production file, and deploy/haproxy/haproxy-dev.cfg, the
  dev/test variant, both pass `haproxy -c`;
- the dev variant routes by a verified token's `vigil_force`, by a verified client
  certificate's O, and (dev only) by x-vigil-force, and refuses with gRPC errors;
- the production file, with its TLS to the shards (a second HAProxy terminates TLS in front of
  each plain vigild until vigild serves TLS itself), routes by token and certificate, and not by
  the header.

Certificates come from the openssl CLI, tokens are ES256 JWTs signed with it. Listeners are
sockets this test opens on free ports and hands to HAProxy (`fd@N`), so nothing races for a port.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

ARGS = None
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROD_CFG = os.path.join(ROOT, "deploy/haproxy/haproxy.cfg")
DEV_CFG = os.path.join(ROOT, "deploy/haproxy/haproxy-dev.cfg")
FORCES_MAP = os.path.join(ROOT, "deploy/haproxy/forces.map")
FORCES = ("wessex", "mercia")


def run(*cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Pki:
    """A CA, server and client certificates (EC P-256) and a token signing key, with openssl."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_key, self.ca = self.path("ca.key"), self.path("ca.crt")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
            "-subj", "/CN=vigil test CA")
        self.token_key = self.path("token-signing.key")
        self.token_pub = self.path("token-issuer.pem")
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
            "-out", self.token_key)
        run("openssl", "ec", "-in", self.token_key, "-pubout", "-out", self.token_pub)

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, subject, sans=(), client=False):
        """Writes NAME.crt and NAME.key signed by the CA; returns (cert, key)."""
        key, csr, crt = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".crt")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
            if sans:
                f.write("subjectAltName=%s\n" % ",".join(sans))
        run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
        return crt, key

    def pem_bundle(self, name, crt, key):
        """HAProxy's crt file: certificate then key."""
        out = self.path(name)
        with open(out, "w") as f:
            f.write(read(crt) + read(key))
        return out

    def token(self, claims, alg="ES256"):
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        signed = (header + "." + payload).encode()
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.token_key],
                             input=signed, capture_output=True, check=True).stdout
        return header + "." + payload + "." + b64url(der_to_raw_ecdsa(der))


def der_to_raw_ecdsa(der):
    """JWS ES256 wants r || s (32 bytes each), openssl writes DER SEQUENCE { r, s }."""
    i = 3 if der[1] & 0x80 else 2
    raw = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        raw += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return raw


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    s.set_inheritable(True)
    return s


class HAProxy:
    """One haproxy process on a config file; listeners passed as fd@N through the environment."""

    def __init__(self, directory, name, config, env, sockets):
        self.log = open(os.path.join(directory, name + ".log"), "w")
        self.env = dict(os.environ, **env)
        for var, sock in sockets.items():
            self.env[var] = "fd@%d" % sock.fileno()
        self.config = config
        self.proc = subprocess.Popen(
            [ARGS.haproxy, "-db", "-f", config], env=self.env, stdout=self.log,
            stderr=subprocess.STDOUT, pass_fds=[s.fileno() for s in sockets.values()])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.stubs)
        import grpc
        cls.grpc = grpc
        from vigil.v1 import audit_pb2, audit_pb2_grpc
        cls.audit_pb2, cls.audit_pb2_grpc = audit_pb2, audit_pb2_grpc

        cls.dir = tempfile.mkdtemp(prefix="vigil-haproxy-test.")
        cls.pki = Pki(cls.dir)
        cls.tls_dir = os.path.join(cls.dir, "proxy-tls")
        os.mkdir(cls.tls_dir)
        crt, key = cls.pki.issue("proxy", "/CN=localhost",
                                 sans=("DNS:localhost", "IP:127.0.0.1"))
        cls.pki.pem_bundle(os.path.join(cls.tls_dir, "server.pem"), crt, key)
        shutil.copy(cls.pki.ca, os.path.join(cls.tls_dir, "client-ca.crt"))
        cls.client_certs = {f: cls.pki.issue("client-" + f, "/CN=DC 100/O=%s" % f, client=True)
                            for f in FORCES}

        cls.shards, cls.shard_addr = {}, {}
        for force in FORCES:
            port_file = os.path.join(cls.dir, force + ".port")
            log = open(os.path.join(cls.dir, force + ".log"), "w")
            cls.shards[force] = (subprocess.Popen(
                [ARGS.vigild, "--data-dir", os.path.join(cls.dir, force), "--listen",
                 "127.0.0.1:0", "--port-file", port_file, "--services", "audit,admin"],
                stdout=log, stderr=subprocess.STDOUT), log)
            deadline = time.monotonic() + 60
            while not os.path.exists(port_file) or not read(port_file).strip():
                if cls.shards[force][0].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("vigild %s did not start; see %s" % (force, log.name))
                time.sleep(0.02)
            cls.shard_addr[force] = "127.0.0.1:" + read(port_file).strip()
        cls.direct = {f: grpc.insecure_channel(a) for f, a in cls.shard_addr.items()}
        cls.proxies = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.proxies:
            p.stop()
        for channel in cls.direct.values():
            channel.close()
        codes = {}
        for force, (proc, log) in cls.shards.items():
            proc.send_signal(signal.SIGTERM)
            codes[force] = proc.wait(timeout=60)
            log.close()
        assert all(c == 0 for c in codes.values()), codes
        shutil.rmtree(cls.dir)

    # --- helpers ---

    @classmethod
    def start_proxy(cls, name, config, backends, extra_env=None):
        grpc_sock, health_sock = listener(), listener()
        env = {"VIGIL_PROXY_TLS_DIR": cls.tls_dir, "VIGIL_JWT_KEY": cls.pki.token_pub,
               "VIGIL_FORCES_MAP": FORCES_MAP, "SHARD_NORTHUMBRIA": "127.0.0.1:9",
               "NATIONAL_BACKLOG": "127.0.0.1:9"}
        env.update({"SHARD_" + f.upper(): a for f, a in backends.items()})
        env.update(extra_env or {})
        proxy = HAProxy(cls.dir, name, config, env,
                        {"VIGIL_PROXY_BIND": grpc_sock, "VIGIL_PROXY_HEALTH_BIND": health_sock})
        cls.proxies.append(proxy)
        grpc_port, health_port = grpc_sock.getsockname()[1], health_sock.getsockname()[1]
        grpc_sock.close()
        health_sock.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(
                        "http://127.0.0.1:%d/healthz" % health_port, timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proxy.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("haproxy %s did not start; see %s" % (name, proxy.log.name))
            time.sleep(0.05)
        return grpc_port, health_port

    def channel(self, port, client_force=None):
        cert = key = None
        if client_force:
            crt_path, key_path = self.client_certs[client_force]
            cert, key = read(crt_path, "rb"), read(key_path, "rb")
        creds = self.grpc.ssl_channel_credentials(
            root_certificates=read(self.pki.ca, "rb"), private_key=key,
            certificate_chain=cert)
        channel = self.grpc.secure_channel("localhost:%d" % port, creds)
        self.addCleanup(channel.close)
        return channel

    def call(self, channel, header_force="wessex", token=None):
        """ListAuditRecords through the proxy with a fresh purpose; returns that purpose."""
        purpose = "proxy test " + uuid.uuid4().hex
        metadata = [("x-vigil-actor", "Auditor P"), ("x-vigil-role", "auditor"),
                    ("x-vigil-force", header_force), ("x-vigil-purpose", purpose)]
        if token:
            metadata.append(("authorization", "Bearer " + token))
        self.audit_pb2_grpc.AuditServiceStub(channel).ListAuditRecords(
            self.audit_pb2.ListAuditRecordsRequest(), metadata=metadata, timeout=10)
        return purpose

    def shards_with(self, purpose, record_force):
        """The shards whose audit log holds a record with this purpose."""
        found = []
        for force, channel in self.direct.items():
            reply = self.audit_pb2_grpc.AuditServiceStub(channel).ListAuditRecords(
                self.audit_pb2.ListAuditRecordsRequest(),
                metadata=[("x-vigil-actor", "Auditor Q"), ("x-vigil-role", "auditor"),
                          ("x-vigil-force", record_force), ("x-vigil-purpose", "check")],
                timeout=10)
            if any(r.purpose == purpose for r in reply.records):
                found.append(force)
        return found

    def assertRefused(self, code, message_part, channel, **kwargs):
        with self.assertRaises(self.grpc.RpcError) as raised:
            self.call(channel, **kwargs)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        self.assertIn(message_part, raised.exception.details())


class ConfigTest(unittest.TestCase):
    def test_both_files_pass_haproxy_check(self):
        with tempfile.TemporaryDirectory() as d:
            pki = Pki(d)
            crt, key = pki.issue("proxy", "/CN=localhost", sans=("DNS:localhost",))
            pki.pem_bundle(os.path.join(d, "server.pem"), crt, key)
            shutil.copy(pki.ca, os.path.join(d, "client-ca.crt"))
            env = dict(os.environ, VIGIL_PROXY_TLS_DIR=d, VIGIL_JWT_KEY=pki.token_pub,
                       VIGIL_SHARD_CA=pki.ca, VIGIL_FORCES_MAP=FORCES_MAP,
                       SHARD_WESSEX="127.0.0.1:1", SHARD_MERCIA="127.0.0.1:2",
                       SHARD_NORTHUMBRIA="127.0.0.1:3", NATIONAL_BACKLOG="127.0.0.1:4")
            for cfg in (PROD_CFG, DEV_CFG):
                done = subprocess.run([ARGS.haproxy, "-c", "-f", cfg], env=env,
                                      capture_output=True, text=True)
                self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
                self.assertNotIn("[WARNING]", done.stdout + done.stderr, cfg)

    def test_dev_variant_routes_as_production_plus_marked_lines_only(self):
        def routing(path):
            text = read(path).splitlines()
            start = next(i for i, l in enumerate(text) if "# -- routing:" in l)
            end = next(i for i, l in enumerate(text) if "# -- end of routing --" in l)
            return [l for l in text[start + 1:end]]

        prod, dev = routing(PROD_CFG), routing(DEV_CFG)
        kept, skip = [], False
        for line in dev:
            if "# DEV/TEST ONLY" in line:
                skip = True
                continue
            if skip:
                skip = False
                self.assertIn("x-vigil-force", line)
                continue
            kept.append(line.replace('"${VIGIL_JWT_KEY}"',
                                     '"${VIGIL_JWT_KEY-/etc/haproxy/jwt/issuer.pem}"')
                        .replace('"${VIGIL_FORCES_MAP-deploy/haproxy/forces.map}"',
                                 '"${VIGIL_FORCES_MAP-/etc/haproxy/forces.map}"'))
        self.assertEqual(kept, prod)
        rules = [l for l in read(PROD_CFG).splitlines() if not l.lstrip().startswith("#")]
        self.assertFalse([l for l in rules if "x-vigil-force" in l])


class DevVariantTest(ProxyTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port, cls.health_port = cls.start_proxy("haproxy-dev", DEV_CFG, cls.shard_addr)

    def test_routes_by_the_dev_header(self):
        for force in FORCES:
            purpose = self.call(self.channel(self.port), header_force=force)
            self.assertEqual(self.shards_with(purpose, force), [force])

    def test_a_verified_token_outranks_the_header(self):
        token = self.pki.token({"vigil_force": "mercia", "preferred_username": "Auditor P"})
        purpose = self.call(self.channel(self.port), header_force="wessex", token=token)
        self.assertEqual(self.shards_with(purpose, "wessex"), ["mercia"])

    def test_a_client_certificate_outranks_the_header(self):
        purpose = self.call(self.channel(self.port, client_force="mercia"), header_force="wessex")
        self.assertEqual(self.shards_with(purpose, "wessex"), ["mercia"])

    def test_unknown_force_is_a_grpc_not_found(self):
        self.assertRefused(self.grpc.StatusCode.NOT_FOUND, "no shard serves force 'atlantis'",
                           self.channel(self.port), header_force="atlantis")

    def test_tampered_token_is_unauthenticated(self):
        header, _, signature = self.pki.token({"vigil_force": "wessex"}).split(".")
        forged = ".".join([header, b64url(json.dumps({"vigil_force": "mercia"}).encode()),
                           signature])
        self.assertRefused(self.grpc.StatusCode.UNAUTHENTICATED, "signature does not verify",
                           self.channel(self.port), token=forged)

    def test_token_without_rs256_or_es256_is_unauthenticated(self):
        header = b64url(json.dumps({"alg": "none"}).encode())
        token = header + "." + b64url(json.dumps({"vigil_force": "wessex"}).encode()) + "."
        self.assertRefused(self.grpc.StatusCode.UNAUTHENTICATED, "not signed with RS256 or ES256",
                           self.channel(self.port), token=token)

    def test_certificate_and_token_of_different_forces_are_refused(self):
        token = self.pki.token({"vigil_force": "mercia"})
        self.assertRefused(self.grpc.StatusCode.UNAUTHENTICATED, "is not the token's mercia",
                           self.channel(self.port, client_force="wessex"), token=token)

    def test_health_endpoint(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.health_port,
                                    timeout=5) as r:
            self.assertEqual(r.status, 200)


class ProductionConfigTest(ProxyTest):
    """haproxy.cfg itself: TLS to each shard through a TLS-terminating HAProxy in front of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sidecar_cfg = os.path.join(cls.dir, "shard-tls.cfg")
        sockets, tls_addr = {}, {}
        with open(sidecar_cfg, "w") as f:
            f.write("defaults\n    mode http\n    timeout connect 5s\n"
                    "    timeout client 1h\n    timeout server 1h\n")
            for force in FORCES:
                crt, key = cls.pki.issue("shard-" + force, "/CN=vigild-%s" % force,
                                         sans=("DNS:vigild-%s.vigil.svc" % force,))
                bundle = cls.pki.pem_bundle("shard-%s.pem" % force, crt, key)
                sock = listener()
                sockets["TLS_" + force.upper()] = sock
                tls_addr[force] = "127.0.0.1:%d" % sock.getsockname()[1]
                f.write("frontend tls_%s\n    bind \"${TLS_%s}\" ssl crt %s alpn h2\n"
                        "    default_backend plain_%s\n"
                        "backend plain_%s\n    server vigild %s proto h2\n"
                        % (force, force.upper(), bundle, force, force, cls.shard_addr[force]))
        cls.proxies.append(HAProxy(cls.dir, "shard-tls", sidecar_cfg, {}, sockets))
        for sock in sockets.values():
            sock.close()
        cls.port, _ = cls.start_proxy("haproxy-prod", PROD_CFG, tls_addr,
                                      {"VIGIL_SHARD_CA": cls.pki.ca})

    def test_routes_by_the_token_over_tls_to_the_shard(self):
        for force in FORCES:
            token = self.pki.token({"vigil_force": force})
            purpose = self.call(self.channel(self.port), header_force="wessex", token=token)
            self.assertEqual(self.shards_with(purpose, "wessex"), [force])

    def test_routes_by_the_client_certificate(self):
        purpose = self.call(self.channel(self.port, client_force="mercia"), header_force="wessex")
        self.assertEqual(self.shards_with(purpose, "wessex"), ["mercia"])

    def test_the_dev_header_routes_nothing(self):
        self.assertRefused(self.grpc.StatusCode.UNAUTHENTICATED,
                           "no verified client certificate or bearer token",
                           self.channel(self.port), header_force="wessex")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    ARGS, rest = parser.parse_known_args()
    if not os.path.exists(ARGS.haproxy):
        print("SKIPPED: haproxy is not installed (apt-get install haproxy)")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
