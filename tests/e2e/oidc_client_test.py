#!/usr/bin/python3
"""End to end, with a real OpenID provider: a Python grpcio client (Debian's python3-grpcio)
calls the real vigild over TLS with a bearer token that oidc-provider issued
(tests/support/oidc), as a force system signed in with the client-credentials grant would.

vigild's certificates come from the real `vigil certs`; its JWKS is the provider's, fetched from
the discovery document's jwks_uri; tokens come over HTTP (urllib). Covered: create and read an
offender as the token's identity, the audit log naming the token's actor, another force's token
refused the record, no token and a tampered token refused, a person's token from the
authorization-code grant with PKCE, and the provider's key rotation picked up on SIGHUP.

    oidc_client_test.py --vigild build/services/vigild/vigild --vigil build/clients/cli/vigil \
        --stubs build/python --provider tests/support/oidc [unittest args]

The provider's packages must be installed first (`npm ci` in tests/support/oidc; ctest's
oidc_provider_npm_ci does it)."""

import argparse
import base64
import hashlib
import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from google.protobuf import timestamp_pb2

ARGS = None
AUDIENCE = "vigil"
WEB_REDIRECT = "http://127.0.0.1:9/callback"  # never reached: the test reads the redirect

# Who the provider issues tokens to (its config file; see tests/support/oidc/README.md).
PROVIDER_CONFIG = {
    "clients": [
        {"client_id": "wessex-ppu", "client_secret": "wessex-ppu-secret",
         "claims": {"preferred_username": "wessex-ppu", "vigil_role": "system",
                    "vigil_force": "wessex"}},
        {"client_id": "eastshire-ppu", "client_secret": "eastshire-ppu-secret",
         "claims": {"preferred_username": "eastshire-ppu", "vigil_role": "system",
                    "vigil_force": "eastshire"}},
        {"client_id": "wessex-audit", "client_secret": "wessex-audit-secret",
         "claims": {"preferred_username": "Auditor Okafor", "vigil_role": "auditor",
                    "vigil_force": "wessex"}},
        {"client_id": "vigil-web", "redirect_uris": [WEB_REDIRECT],
         "grant_types": ["authorization_code", "refresh_token"]},
    ],
    "users": [
        {"username": "holt", "password": "holt-password",
         "claims": {"preferred_username": "DS Holt", "vigil_role": "supervisor",
                    "vigil_force": "wessex", "vigil_team": "north", "vigil_rank": "sergeant"}},
    ],
}


def wait_for(what, predicate, timeout=60, process=None, log=None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout}s; see {log}")
        time.sleep(0.02)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token):
    return json.loads(b64url_decode(token.split(".")[1]))


class Provider:
    """tests/support/oidc/provider.mjs in a process of its own; restart() keeps the port (and so
    the issuer) and makes new signing keys, as a provider rotating its keys would."""

    def __init__(self, directory, config=None, node=None, provider_dir=None):
        self.directory = directory
        self.settings = config if config is not None else PROVIDER_CONFIG
        self.node = node or ARGS.node
        self.provider_dir = provider_dir or ARGS.provider
        self.config = os.path.join(directory, "provider.json")
        with open(self.config, "w") as f:
            json.dump(self.settings, f, indent=2)
        self.port = 0
        self.process = None
        self.issuer = None
        self.log_path = os.path.join(directory, "provider.log")

    def start(self):
        ready = os.path.join(self.directory, "provider.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [self.node, os.path.join(self.provider_dir, "provider.mjs"), "--config", self.config,
                 "--port", str(self.port), "--ready-file", ready],
                stdout=log, stderr=subprocess.STDOUT)
        info = wait_for("the OpenID provider", lambda: read_json(ready), process=self.process,
                        log=self.log_path)
        self.port, self.issuer = info["port"], info["issuer"]
        self.discovery = self.get_json("/.well-known/openid-configuration")

    def stop(self):
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    def restart(self):
        self.stop()
        self.start()

    def get_json(self, path_or_url):
        url = path_or_url if path_or_url.startswith("http") else self.issuer + path_or_url
        with urllib.request.urlopen(url, timeout=10) as reply:
            return json.load(reply)

    def write_jwks(self, path):
        """The provider's public keys, from the discovery document's jwks_uri, into `path`
        (replaced atomically, as an operator's fetch-and-reload would)."""
        jwks = self.get_json(self.discovery["jwks_uri"])
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(jwks, f)
        os.replace(tmp, path)
        return jwks

    def client_credentials_token(self, client_id):
        """An access token for vigild by the client-credentials grant (client_secret_basic)."""
        secret = next(c["client_secret"] for c in self.settings["clients"]
                      if c["client_id"] == client_id)
        request = urllib.request.Request(
            self.discovery["token_endpoint"],
            data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(
                f"{client_id}:{secret}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=10) as reply:
            body = json.load(reply)
        self_check = claims_of(body["access_token"])
        assert self_check["aud"] == AUDIENCE and self_check["iss"] == self.issuer, self_check
        return body["access_token"]

    def authorization_code(self, login_hint=None, form=None, offline=False):
        """A person's access token: the authorization-code grant with PKCE (S256) for the public
        client vigil-web, following the provider's redirects as a browser would. The user is
        named by login_hint, or `form` (username, password) is posted to the login page.
        `offline` asks for a refresh token too. Returns the code and the PKCE verifier."""
        verifier = secrets.token_urlsafe(48)
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        captured = {}

        class StopAtRedirectUri(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, req, fp, code, msg, headers, newurl):
                if newurl.startswith(WEB_REDIRECT):
                    captured["url"] = newurl
                    return None
                return super().redirect_request(req, fp, code, msg, headers, newurl)

        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), StopAtRedirectUri)
        query = {"client_id": "vigil-web", "response_type": "code", "scope": "openid profile",
                 "redirect_uri": WEB_REDIRECT, "state": "s1", "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        if login_hint:
            query["login_hint"] = login_hint
        if offline:
            query.update(scope="openid profile offline_access", prompt="consent")
        url = self.discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(query)
        try:
            page = opener.open(url, timeout=10)
            if form is None:
                raise AssertionError(f"no redirect to the client; got {page.url}")
            html = page.read().decode()
            assert 'id="login"' in html, html
            action = html.split('action="', 1)[1].split('"', 1)[0]
            page = opener.open(self.issuer + action, urllib.parse.urlencode(form).encode(),
                               timeout=10)
            raise AssertionError(f"the login did not finish: {page.read().decode()[:300]}")
        except urllib.error.HTTPError as e:
            if "url" not in captured:
                raise
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(captured["url"]).query))
        assert params.get("state") == "s1" and "code" in params, params
        return params["code"], verifier

    def redeem(self, code, verifier):
        return self.token_request({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": WEB_REDIRECT, "code_verifier": verifier})

    def refresh(self, refresh_token):
        return self.token_request({"grant_type": "refresh_token",
                                   "refresh_token": refresh_token})

    def token_request(self, form):
        """A token request of the public client vigil-web."""
        request = urllib.request.Request(
            self.discovery["token_endpoint"],
            data=urllib.parse.urlencode({**form, "client_id": "vigil-web"}).encode())
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)


class OidcClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.stubs)
        import grpc
        from vigil.v1 import audit_pb2, audit_pb2_grpc, rso_pb2, rso_pb2_grpc
        cls.grpc, cls.audit_pb2, cls.rso_pb2 = grpc, audit_pb2, rso_pb2
        root = os.environ.get("VIGIL_TEST_TMPDIR") or tempfile.gettempdir()
        cls.dir = tempfile.mkdtemp(prefix="vigil-oidc-e2e.", dir=root)
        cls.passed = True

        # vigild's TLS material, made with the real CLI.
        cls.pki = os.path.join(cls.dir, "pki")
        for args in (["create-ca"], ["create-server", "--host", "127.0.0.1"]):
            run = subprocess.run([ARGS.vigil, "certs", *args, "--dir", cls.pki],
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stdout + run.stderr

        cls.provider = Provider(cls.dir)
        cls.addClassCleanup(cls.provider.stop)  # also when setUpClass fails further on
        cls.provider.start()
        cls.jwks = os.path.join(cls.dir, "idp-jwks.json")
        cls.provider.write_jwks(cls.jwks)

        port_file = os.path.join(cls.dir, "vigild.port")
        cls.vigild_log = os.path.join(cls.dir, "vigild.log")
        with open(cls.vigild_log, "w") as log:
            cls.vigild = subprocess.Popen(
                [ARGS.vigild, "--data-dir", os.path.join(cls.dir, "data"),
                 "--listen", "127.0.0.1:0", "--port-file", port_file, "--auth=jwt",
                 "--tls-cert", os.path.join(cls.pki, "server.crt"),
                 "--tls-key", os.path.join(cls.pki, "server.key"),
                 "--jwks", cls.jwks, "--jwt-issuer", cls.provider.issuer,
                 "--jwt-audience", AUDIENCE],
                stdout=log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(cls.kill_vigild)

        def port():
            try:
                with open(port_file) as f:
                    return f.read().strip()
            except FileNotFoundError:
                return ""
        address = "127.0.0.1:" + wait_for("vigild", port, process=cls.vigild, log=cls.vigild_log)
        with open(os.path.join(cls.pki, "ca.crt"), "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        cls.channel = grpc.secure_channel(address, credentials)
        grpc.channel_ready_future(cls.channel).result(timeout=30)
        cls.offenders = rso_pb2_grpc.OffenderServiceStub(cls.channel)
        cls.audit = audit_pb2_grpc.AuditServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.vigild.send_signal(signal.SIGTERM)
        code = cls.vigild.wait(timeout=60)
        cls.provider.stop()
        assert code == 0, f"vigild exited with {code}; see {cls.vigild_log}"
        if cls.passed:  # a failure keeps the directory: the logs and the provider's config
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def kill_vigild(cls):
        if cls.vigild.poll() is None:
            cls.vigild.kill()
            cls.vigild.wait()

    def run(self, result=None):
        result = super().run(result)
        if result is not None and not result.wasSuccessful():
            type(self).passed = False
        return result

    @staticmethod
    def metadata(token, purpose="oidc e2e"):
        md = [("x-vigil-purpose", purpose)]
        if token is not None:
            md.append(("authorization", "Bearer " + token))
        return md

    def create_offender(self, token, tag):
        return self.offenders.CreateOffender(self.rso_pb2.CreateOffenderRequest(
            offender=self.rso_pb2.Offender(
                display_name=f"Alan {tag}", owner_officer="DC 100", team="north",
                registered_time=timestamp_pb2.Timestamp(seconds=1709287200)),
            request_id=f"oidc-{tag}"), metadata=self.metadata(token), timeout=30)

    def get_offender(self, token, offender_id):
        return self.offenders.GetOffender(self.rso_pb2.GetOffenderRequest(id=offender_id),
                                          metadata=self.metadata(token), timeout=30)

    def refused(self, call, code):
        with self.assertRaises(self.grpc.RpcError) as raised:
            call()
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        return raised.exception.details()

    def test_1_machine_identity_creates_reads_and_is_audited(self):
        token = self.provider.client_credentials_token("wessex-ppu")
        claims = claims_of(token)
        self.assertEqual((claims["preferred_username"], claims["vigil_role"],
                          claims["vigil_force"]), ("wessex-ppu", "system", "wessex"))

        created = self.create_offender(token, "machine")
        self.assertEqual(created.force, "wessex", "the force comes from the token")
        got = self.get_offender(token, created.id)
        self.assertEqual(got.display_name, "Alan machine")

        # The audit log, read by an auditor whose token the provider issued too, names the
        # token's actor, role and force for the registration.
        auditor = self.provider.client_credentials_token("wessex-audit")
        reply = self.audit.ListAuditRecords(
            self.audit_pb2.ListAuditRecordsRequest(actor="wessex-ppu"),
            metadata=self.metadata(auditor, "oidc e2e audit check"), timeout=30)
        records = [r for r in reply.records if created.id in r.subject_ids]
        self.assertTrue(records, reply)
        creation = next(r for r in records if r.rpc.endswith("/CreateOffender"))
        self.assertEqual((creation.actor, creation.role, creation.force),
                         ("wessex-ppu", "system", "wessex"))
        self.assertEqual(creation.action, self.audit_pb2.AUDIT_ACTION_COLLECTION)
        self.assertEqual(creation.purpose, "oidc e2e")

        # Another force's token: the record is not there for it.
        eastshire = self.provider.client_credentials_token("eastshire-ppu")
        details = self.refused(lambda: self.get_offender(eastshire, created.id),
                               self.grpc.StatusCode.NOT_FOUND)
        self.assertIn(created.id, details)

    def test_2_refusals_name_the_check(self):
        details = self.refused(lambda: self.get_offender(None, "RSO-1"),
                               self.grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("no bearer token", details)

        token = self.provider.client_credentials_token("wessex-ppu")
        header, payload, signature = token.split(".")
        flipped = bytearray(b64url_decode(signature))
        flipped[len(flipped) // 2] ^= 0x01
        tampered = ".".join([header, payload, b64url(bytes(flipped))])
        details = self.refused(lambda: self.get_offender(tampered, "RSO-1"),
                               self.grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("signature does not verify", details)
        self.assertNotIn(signature, details, "the token is never echoed")

    def test_3_person_signs_in_with_authorization_code_and_pkce(self):
        # PKCE: a code is worth nothing without its verifier.
        code, _ = self.provider.authorization_code(login_hint="holt")
        self.assertEqual(self.redeem_error(code, secrets.token_urlsafe(48)), "invalid_grant")

        code, verifier = self.provider.authorization_code(login_hint="holt")
        tokens = self.provider.redeem(code, verifier)
        self.assertEqual(self.redeem_error(code, verifier), "invalid_grant", "a code works once")
        claims = claims_of(tokens["access_token"])
        self.assertEqual((claims["sub"], claims["preferred_username"], claims["vigil_role"],
                          claims["vigil_team"], claims["vigil_rank"], claims["aud"]),
                         ("holt", "DS Holt", "supervisor", "north", "sergeant", AUDIENCE))
        self.assertIn("id_token", tokens)

        created = self.create_offender(tokens["access_token"], "person")
        self.assertEqual(created.force, "wessex")
        self.assertEqual(self.get_offender(tokens["access_token"], created.id).id, created.id)

        # The login form, as a browser test would fill it in.
        code, verifier = self.provider.authorization_code(
            form={"username": "holt", "password": "holt-password"})
        self.assertEqual(claims_of(self.provider.redeem(code, verifier)["access_token"])["sub"],
                         "holt")

        # A web app keeps the session with a refresh token: the refreshed access token is the
        # same kind of JWT, and vigild takes it.
        code, verifier = self.provider.authorization_code(login_hint="holt", offline=True)
        refresh_token = self.provider.redeem(code, verifier)["refresh_token"]
        refreshed = self.provider.refresh(refresh_token)["access_token"]
        self.assertEqual(claims_of(refreshed)["preferred_username"], "DS Holt")
        self.assertEqual(self.get_offender(refreshed, created.id).id, created.id)

    def test_4_key_rotation_is_picked_up_on_sighup(self):
        old_token = self.provider.client_credentials_token("wessex-ppu")
        old_kid = json.loads(b64url_decode(old_token.split(".")[0]))["kid"]
        self.get_offender_ok(old_token)

        self.provider.restart()  # same issuer, new signing keys
        new_token = self.provider.client_credentials_token("wessex-ppu")
        new_kid = json.loads(b64url_decode(new_token.split(".")[0]))["kid"]
        self.assertNotEqual(new_kid, old_kid)
        details = self.refused(lambda: self.get_offender(new_token, "RSO-1"),
                               self.grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("is not in the JWKS", details, "vigild still has the old keys")

        jwks = self.provider.write_jwks(self.jwks)
        self.assertEqual([k["kid"] for k in jwks["keys"]], [new_kid])
        with open(self.vigild_log) as f:
            reloads_before = f.read().count(f"JWKS {self.jwks} reloaded")
        self.vigild.send_signal(signal.SIGHUP)

        def reloaded():
            with open(self.vigild_log) as f:
                return f.read().count(f"JWKS {self.jwks} reloaded") > reloads_before
        wait_for("vigild's JWKS reload", reloaded, timeout=30, process=self.vigild,
                 log=self.vigild_log)

        self.get_offender_ok(new_token)
        details = self.refused(lambda: self.get_offender(old_token, "RSO-1"),
                               self.grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("is not in the JWKS", details)
        self.assertIsNone(self.vigild.poll(), "vigild was not restarted")

    def redeem_error(self, code, verifier):
        with self.assertRaises(urllib.error.HTTPError) as raised:
            self.provider.redeem(code, verifier)
        return json.load(raised.exception)["error"]

    def get_offender_ok(self, token):
        """A call the token gets through authentication with (the offender does not exist)."""
        self.refused(lambda: self.get_offender(token, "RSO-NOBODY"),
                     self.grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--vigil", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--provider", required=True, help="tests/support/oidc")
    parser.add_argument("--node", default=shutil.which("node") or "node")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
