#!/usr/bin/python3
"""End to end: vigil-web between a browser and the real vigild, people signing in at a real
OpenID provider (tests/support/oidc, npm oidc-provider) with the authorization-code grant and
PKCE. The "browser" here is urllib with a cookie jar, following every redirect as a browser
would and filling in the provider's login form; tests/web/ drives Debian's chromium against the
same server for the pages themselves.

Covered: sign-in and calls as the person (the answer equals vigild's to the person's own token,
and the audit log names the person, not vigil-web); an officer refused another team's offender;
refusals (no session, no X-Vigil-Web header, a foreign Origin, a method outside the allow-list,
not JSON, an unknown field, no purpose); a replayed or foreign sign-in callback; alert events
as server-sent events resumed by Last-Event-ID; sign-out, ending the provider's session too
(RP-initiated logout); the dev sign-in off; vigil-web's
refusals to start unsafely.

    web_gateway_test.py --vigil-web build/services/web/vigil-web --vigild build/services/vigild/vigild \
        --vigil build/clients/cli/vigil --provider tests/support/oidc [unittest args]
"""

import argparse
import html.parser
import http.client
import http.cookiejar
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
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oidc_client_test as oidc  # noqa: E402  (the provider process and helpers)

ARGS = None
USERS = {
    "holt": {"preferred_username": "DS Holt", "vigil_role": "supervisor", "vigil_force": "wessex",
             "vigil_team": "north", "vigil_rank": "sergeant"},
    "dc100": {"preferred_username": "DC 100", "vigil_role": "officer", "vigil_force": "wessex",
              "vigil_team": "north"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A cookie jar and redirects followed, as a browser; records every URL it was sent to."""

    def __init__(self, origin):
        self.origin = origin
        self.jar = http.cookiejar.CookieJar()
        self.visited = []
        browser = self

        class Recorder(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, req, fp, code, msg, headers, newurl):
                browser.visited.append(newurl)
                return super().redirect_request(req, fp, code, msg, headers, newurl)

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  Recorder)

    def open(self, url, data=None, headers=None, method=None):
        request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        try:
            reply = self.opener.open(request, timeout=30)
            return reply.status, reply.read().decode(), reply.url
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.url

    def sign_in(self, provider, username):
        """The whole sign-in: vigil-web → the provider's login form → back to vigil-web."""
        status, html, url = self.open(self.origin + "/auth/login?return=%23%2Fwork")
        assert status == 200 and 'id="login"' in html, (status, url, html[:300])
        action = html.split('action="', 1)[1].split('"', 1)[0]
        form = urllib.parse.urlencode({"username": username,
                                       "password": username + "-password"}).encode()
        return self.open(provider.issuer + action, data=form)

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)

    def call(self, method, body=None, purpose="web gateway e2e", headers=None):
        """A unary call through the gateway: (HTTP status, JSON answer)."""
        sent = {"Content-Type": "application/json", "X-Vigil-Web": "1"}
        if purpose:
            sent["X-Vigil-Purpose"] = purpose
        sent.update(headers or {})
        status, text, _ = self.open(self.origin + "/api/" + method,
                                    data=json.dumps(body or {}).encode(), headers=sent,
                                    method="POST")
        return status, json.loads(text) if text else {}


class LogoutForm(html.parser.HTMLParser):
    """The provider's end-session confirmation: the form's action and hidden fields."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def read_events(port, cookie, count, last_event_id=None, query="purpose=web%20e2e&after=0"):
    """The first `count` server-sent events of /api/events/alerts: [(id, data)]."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": "vigil_session=" + cookie, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    connection.request("GET", "/api/events/alerts?" + query, headers=headers)
    reply = connection.getresponse()
    if reply.status != 200:
        answer = json.loads(reply.read().decode())
        connection.close()
        return reply.status, answer
    assert reply.getheader("Content-Type").startswith("text/event-stream")
    events, current = [], {}
    while len(events) < count:
        line = reply.fp.readline().decode().rstrip("\n")
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif line == "" and "id" in current:
            events.append((current["id"], current["data"]))
            current = {}
    connection.close()
    return 200, events


class WebGatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        root = os.environ.get("VIGIL_TEST_TMPDIR") or tempfile.gettempdir()
        cls.dir = tempfile.mkdtemp(prefix="vigil-web-e2e.", dir=root)
        cls.passed = True
        cls.web_port = free_port()
        cls.origin = f"http://127.0.0.1:{cls.web_port}"
        config = {
            "clients": [
                # The second redirect URI is oidc_client_test's, for a token taken directly.
                {"client_id": "vigil-web",
                 "redirect_uris": [cls.origin + "/auth/callback", oidc.WEB_REDIRECT],
                 "post_logout_redirect_uris": [cls.origin + "/"],
                 "grant_types": ["authorization_code", "refresh_token"]},
                {"client_id": "wessex-ppu", "client_secret": "wessex-ppu-secret",
                 "claims": {"preferred_username": "wessex-ppu", "vigil_role": "system",
                            "vigil_force": "wessex"}},
                {"client_id": "wessex-audit", "client_secret": "wessex-audit-secret",
                 "claims": {"preferred_username": "Auditor Okafor", "vigil_role": "auditor",
                            "vigil_force": "wessex"}},
            ],
            "users": [{"username": name, "password": name + "-password", "claims": claims}
                      for name, claims in USERS.items()],
        }
        cls.provider = oidc.Provider(cls.dir, config=config, node=ARGS.node,
                                     provider_dir=ARGS.provider)
        cls.addClassCleanup(cls.provider.stop)
        cls.provider.start()
        jwks = os.path.join(cls.dir, "jwks.json")
        cls.provider.write_jwks(jwks)

        cls.vigild = cls.start([ARGS.vigild, "--data-dir", os.path.join(cls.dir, "data"),
                                "--listen", "127.0.0.1:0", "--auth=jwt", "--jwks", jwks,
                                "--jwt-issuer", cls.provider.issuer, "--jwt-audience", "vigil",
                                # the demo loads as one principal, far beyond a person's limit
                                "--read-rate", "0"],
                               "vigild")
        cls.vigild_address = "127.0.0.1:" + cls.vigild_port
        cls.system_token = cls.provider.client_credentials_token("wessex-ppu")
        seeded = cls.cli(["demo", "seed"], cls.system_token)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr

        static = os.path.join(cls.dir, "static")
        os.makedirs(static)
        with open(os.path.join(static, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>vigil</title><p>vigil</p>")
        cls.web = cls.start([ARGS.vigil_web, "--listen", f"127.0.0.1:{cls.web_port}",
                             "--public-url", cls.origin, "--vigild", cls.vigild_address,
                             "--static-dir", static, "--oidc-issuer", cls.provider.issuer,
                             "--oidc-client-id", "vigil-web",
                             "--oidc-scope", "openid profile offline_access"], "vigil-web")

    @classmethod
    def start(cls, argv, name):
        port_file = os.path.join(cls.dir, name + ".port")
        log_path = os.path.join(cls.dir, name + ".log")
        with open(log_path, "w") as log:
            process = subprocess.Popen(argv + ["--port-file", port_file], stdout=log,
                                       stderr=subprocess.STDOUT)

        def stop():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        cls.addClassCleanup(stop)
        def port():
            try:
                with open(port_file) as f:
                    return f.read().strip()
            except FileNotFoundError:
                return ""
        port = oidc.wait_for(name, port, process=process, log=log_path)
        setattr(cls, name.replace("-", "_") + "_port", port)
        return process

    @classmethod
    def cli(cls, args, token, purpose="web gateway e2e"):
        return subprocess.run([ARGS.vigil, "--server", cls.vigild_address, "--token", token,
                               "--purpose", purpose, *args],
                              capture_output=True, text=True, timeout=300)

    @classmethod
    def tearDownClass(cls):
        for process, name in ((cls.web, "vigil-web"), (cls.vigild, "vigild")):
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            assert code == 0, f"{name} exited with {code}; see {cls.dir}"
        cls.provider.stop()
        if cls.passed:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and not result.wasSuccessful():
            type(self).passed = False
        return result

    def signed_in(self, username):
        browser = Browser(self.origin)
        status, body, url = browser.sign_in(self.provider, username)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(urllib.parse.urlparse(url).netloc, f"127.0.0.1:{self.web_port}", url)
        self.assertIsNotNone(browser.cookie("vigil_session"))
        return browser

    def test_sign_in_then_call_as_the_person(self):
        browser = self.signed_in("holt")
        # Landed back on the route asked for, the sign-in cookie gone.
        self.assertTrue(any(v.endswith("/#/work") for v in browser.visited), browser.visited)
        self.assertIsNone(browser.cookie("vigil_login"))
        status, text, _ = browser.open(self.origin + "/api/session")
        self.assertEqual(status, 200)
        session = json.loads(text)
        self.assertEqual((session["actor"], session["role"], session["force"], session["team"],
                          session["signIn"]),
                         ("DS Holt", "supervisor", "wessex", "north", "oidc"))

        status, summary = browser.call("vigil.v1.BacklogService/GetBacklogSummary")
        self.assertEqual(status, 200, summary)
        # vigild's own answer to the same person's token (straight from the provider).
        code, verifier = self.provider.authorization_code(login_hint="holt")
        token = self.provider.redeem(code, verifier)["access_token"]
        direct = self.cli(["backlog", "-o", "json"], token)
        self.assertEqual(direct.returncode, 0, direct.stderr)
        total = lambda rows: sum(int(r.get("count", 0)) for r in rows)  # noqa: E731
        self.assertGreater(total(summary["rows"]), 0)
        self.assertEqual(total(summary["rows"]), total(json.loads(direct.stdout)["rows"]))

        # The audit log names the person and the purpose they gave, not vigil-web.
        status, alerts = browser.call("vigil.v1.AlertService/ListAlerts",
                                      {"page": {"pageSize": 5}})
        self.assertEqual(status, 200, alerts)
        auditor = self.provider.client_credentials_token("wessex-audit")
        audit = self.cli(["audit", "list", "--actor", "DS Holt", "--page-size", "1000",
                          "-o", "json"], auditor)
        self.assertEqual(audit.returncode, 0, audit.stderr)
        records = json.loads(audit.stdout).get("records", [])
        seen = {(r.get("rpc"), r.get("purpose")) for r in records}
        self.assertIn(("vigil.v1.AlertService/ListAlerts", "web gateway e2e"), seen)
        self.assertFalse(any("vigil-web" in r.get("actor", "") for r in records))

    def test_an_officer_is_refused_another_teams_offender(self):
        listed = self.cli(["offender", "list", "--team", "south", "-o", "json"], self.system_token)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        south = json.loads(listed.stdout)["offenders"][0]["id"]
        listed = self.cli(["offender", "list", "--owner", "DC 100", "-o", "json"],
                          self.system_token)
        own = json.loads(listed.stdout)["offenders"][0]["id"]
        browser = self.signed_in("dc100")
        status, answer = browser.call("vigil.v1.OffenderService/GetOffender", {"id": own})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["id"], own)
        status, answer = browser.call("vigil.v1.OffenderService/GetOffender", {"id": south})
        self.assertEqual(status, 403, answer)
        self.assertEqual(answer["code"], "PERMISSION_DENIED")
        self.assertNotIn("displayName", json.dumps(answer))

    def test_refusals(self):
        stranger = Browser(self.origin)
        status, answer = stranger.call("vigil.v1.BacklogService/ListMyWork")
        self.assertEqual((status, answer["code"]), (401, "UNAUTHENTICATED"))
        status, _, _ = stranger.open(self.origin + "/api/session")
        self.assertEqual(status, 401)

        browser = self.signed_in("holt")
        status, answer = browser.call("vigil.v1.BacklogService/ListMyWork",
                                      headers={"X-Vigil-Web": "0"})
        self.assertEqual(status, 403, answer)
        self.assertIn("X-Vigil-Web", answer["message"])
        status, answer = browser.call("vigil.v1.BacklogService/ListMyWork",
                                      headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 403, answer)
        for method in ("vigil.v1.AdminService/SetPolicy", "vigil.v1.AuditService/ListAuditRecords",
                       "vigil.v1.ObligationFeed/ListOverdue", "vigil.v1.AlertService/Subscribe",
                       "vigil.v1.BacklogService/NoSuchMethod",
                       # allowed services, but not for a browser: bulk, snapshot, internal
                       "vigil.v1.OffenderService/ImportOffenders",
                       "vigil.v1.ReferralService/ImportReferrals",
                       "vigil.v1.BacklogService/TakeBacklogSnapshot",
                       "vigil.v1.OffenderService/LinkReferral"):
            status, answer = browser.call(method)
            self.assertEqual((status, answer["code"]), (404, "NOT_FOUND"), method)
        # A request the browser marks as coming from another site, even a plain GET.
        status, text, _ = browser.open(self.origin + "/api/session",
                                       headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 403, text)
        # Bodies the HTTP library would read without bound are refused before reading.
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=30)
        connection.putrequest("POST", "/api/vigil.v1.BacklogService/ListMyWork")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Content-Type", "application/json")
        connection.endheaders()
        connection.send(b"2\r\n{}\r\n0\r\n\r\n")
        reply = connection.getresponse()
        self.assertEqual(reply.status, 411)
        reply.read()
        connection.close()
        status, answer = browser.call("vigil.v1.BacklogService/ListMyWork",
                                      headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415, answer)
        status, answer = browser.call("vigil.v1.BacklogService/ListMyWork", {"horizonDay": 3})
        self.assertEqual((status, answer["code"]), (400, "INVALID_ARGUMENT"))
        self.assertIn("horizonDay", answer["message"])
        status, answer = browser.call("vigil.v1.BacklogService/ListMyWork", purpose=None)
        self.assertEqual((status, answer["code"]), (400, "INVALID_ARGUMENT"))
        self.assertIn("purpose", answer["message"])
        status, answer = browser.call("vigil.v1.BacklogService/ListMyWork",
                                      purpose="caf\u00e9 review".encode().decode("latin-1"))
        self.assertEqual(status, 400, answer)
        # The dev sign-in is off on this vigil-web.
        status, _, _ = browser.open(self.origin + "/auth/dev", data=b'{"actor":"x"}',
                                    headers={"X-Vigil-Web": "1",
                                             "Content-Type": "application/json"})
        self.assertEqual(status, 404)

    def test_a_callback_is_good_once_and_only_in_its_browser(self):
        browser = self.signed_in("holt")
        callback = next(v for v in browser.visited if "/auth/callback?" in v)
        # Replayed in the same browser: the sign-in it belonged to is over.
        status, text, _ = browser.open(callback)
        self.assertEqual(status, 400, text)
        # A sign-in begun in one browser and completed in another (a victim lured to an
        # attacker's fresh callback, to be signed in as the attacker): refused.
        attacker = Browser(self.origin)
        status, html, _ = attacker.open(self.origin + "/auth/login?return=%23%2F")
        self.assertEqual(status, 200)
        state = attacker.cookie("vigil_login")
        self.assertIsNotNone(state)
        victim = Browser(self.origin)
        status, text, _ = victim.open(
            f"{self.origin}/auth/callback?code=anything&state={urllib.parse.quote(state)}")
        self.assertEqual(status, 400, text)
        self.assertIsNone(victim.cookie("vigil_session"))

    def test_alert_events_stream_and_resume(self):
        browser = self.signed_in("holt")
        cookie = browser.cookie("vigil_session")
        # The scanner raises the demo's alerts within seconds of the load.
        deadline = time.monotonic() + 60
        while True:
            status, events = read_events(self.web_port, cookie, 1)
            self.assertEqual(status, 200, events)
            if events or time.monotonic() > deadline:
                break
        first_id, first = events[0]
        self.assertIn("type", first)
        self.assertEqual(first["alert"]["obligation"]["force"], "wessex")
        status, events = read_events(self.web_port, cookie, 1, last_event_id=first_id)
        self.assertEqual(status, 200)
        self.assertGreater(events[0][0], first_id)
        # No purpose: refused as an HTTP error (which EventSource does not retry).
        status, answer = read_events(self.web_port, cookie, 1, query="after=0")
        self.assertEqual((status, answer["code"]), (400, "INVALID_ARGUMENT"))
        status, answer = read_events(self.web_port, "forged", 1)
        self.assertEqual(status, 401)

    def test_sign_out(self):
        browser = self.signed_in("dc100")
        status, _ = browser.call("vigil.v1.BacklogService/ListMyWork")
        self.assertEqual(status, 200)
        # Signed in at the provider too: signing in again there asks for no password.
        status, body, url = browser.open(self.origin + "/auth/login?return=%23%2Fwork")
        self.assertEqual((status, urllib.parse.urlparse(url).netloc),
                         (200, f"127.0.0.1:{self.web_port}"), body[:300])
        self.assertNotIn('id="login"', body)
        cookie = browser.cookie("vigil_session")
        status, body, _ = browser.open(self.origin + "/auth/logout", data=b"",
                                       headers={"X-Vigil-Web": "1"}, method="POST")
        self.assertEqual(status, 200, body)
        # The old cookie, kept by an attacker, is worth nothing now.
        replay = Browser(self.origin)
        status, _, _ = replay.open(self.origin + "/api/session",
                                   headers={"Cookie": "vigil_session=" + cookie})
        self.assertEqual(status, 401)

        # RP-initiated logout: the page is sent to the provider's end-session endpoint with the
        # ID token as hint and this app as where to come back to.
        end_session = json.loads(body)["endSessionUrl"]
        discovered = json.loads(urllib.request.urlopen(
            self.provider.issuer + "/.well-known/openid-configuration", timeout=30).read())
        self.assertTrue(end_session.startswith(discovered["end_session_endpoint"] + "?"),
                        end_session)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(end_session).query)
        self.assertEqual(query["post_logout_redirect_uri"], [self.origin + "/"])
        self.assertEqual(query["client_id"], ["vigil-web"])
        hint = oidc.claims_of(query["id_token_hint"][0])
        self.assertEqual((hint["sub"], hint["aud"]), ("dc100", "vigil-web"))
        # The provider asks to confirm; confirming ends its session and comes back here.
        status, page, _ = browser.open(end_session)
        self.assertEqual(status, 200, page[:300])
        form = LogoutForm()
        form.feed(page)
        self.assertIn("xsrf", form.fields, page[:500])
        status, _, url = browser.open(urllib.parse.urljoin(end_session, form.action),
                                      data=urllib.parse.urlencode(
                                          {**form.fields, "logout": "yes"}).encode())
        self.assertEqual((status, url), (200, self.origin + "/"))
        # Signing in now asks for the password again.
        status, body, _ = browser.open(self.origin + "/auth/login?return=%23%2Fwork")
        self.assertEqual(status, 200)
        self.assertIn('id="login"', body)

    def test_dev_style_sign_out_without_a_provider_session_is_local(self):
        # A session without an ID token (here: none at all) ends locally: 204, nowhere to go.
        browser = Browser(self.origin)
        status, body, _ = browser.open(self.origin + "/auth/logout", data=b"",
                                       headers={"X-Vigil-Web": "1"}, method="POST")
        self.assertEqual((status, body), (204, ""))

    def test_refuses_to_start_unsafely(self):
        static = os.path.join(self.dir, "static")
        cases = [
            (["--listen", "0.0.0.0:0", "--dev-sign-in"], "plain HTTP only on loopback"),
            (["--listen", "127.0.0.1:0", "--dev-sign-in", "--vigild", "10.0.0.1:7420"],
             "--dev-sign-in"),
            (["--listen", "127.0.0.1:0"], "no way to sign in"),
            (["--listen", "127.0.0.1:0", "--oidc-issuer", "http://idp.example",
              "--oidc-client-id", "x", "--public-url", "http://127.0.0.1:1"], "must be https"),
        ]
        for flags, expected in cases:
            run = subprocess.run([ARGS.vigil_web, "--static-dir", static, *flags],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(run.returncode, 2, (flags, run.stderr))
            self.assertIn(expected, run.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigil-web", required=True)
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--vigil", required=True)
    parser.add_argument("--provider", required=True, help="tests/support/oidc")
    parser.add_argument("--node", default=shutil.which("node") or "node")
    ARGS, rest = parser.parse_known_args()
    oidc.ARGS = ARGS
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
