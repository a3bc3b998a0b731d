"""End to end: the installed vigil_client package against a real vigild started on 127.0.0.1
with a free port in a directory of its own: with --auth=dev for the calls, and over TLS with a
client certificate (--auth=mtls) or a bearer token (--auth=jwt), the TLS material and tokens made
by the real `vigil certs` and `vigil token`.

    python e2e_test.py --vigild build/services/vigild/vigild [--vigil build/clients/cli/vigil] \
        [unittest args]

Run it with the interpreter of an environment where vigil-client is installed (ctest uses
build/python-client-venv, made by `pip install --no-index --no-build-isolation clients/python`)."""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import vigil_client
from vigil_client import (Client, ConfigurationError, DevIdentity, NotFound, TlsHandshakeFailed,
                          TokenExpired, Unauthenticated, Unavailable, Unreachable, VigilError, v1)
from vigild_process import VigildProcess

ARGS = None
SUPERVISOR = DevIdentity("DS Holt", "supervisor", "wessex")


def temp_dir(name):
    root = os.environ.get("VIGIL_TEST_TMPDIR") or tempfile.gettempdir()
    path = tempfile.mkdtemp(prefix=f"vigil-python-client.{name}.", dir=root)
    return path


def make_referrals(client, tag, count):
    """`count` referrals received in 2023 and never triaged: each owes its triage long ago, so
    vigild raises one alert for each as soon as it is created."""
    ids = []
    for i in range(count):
        referral = client.referrals.CreateReferral(
            referral={"source": "REFERRAL_SOURCE_NCA_CEOP",
                      "source_reference": f"{tag}-{i}",
                      "received_time": f"2023-0{1 + i % 9}-1{i % 10}T09:00:00Z",
                      "subject_display_name": f"Subject {tag} {i}"},
            request_id=f"{tag}-{i}")
        ids.append(referral.id)
    return ids


class ClientAgainstVigild(unittest.TestCase):
    """One vigild for the calls that need no restart."""

    @classmethod
    def setUpClass(cls):
        cls.dir = temp_dir("calls")
        cls.vigild = VigildProcess(ARGS.vigild, cls.dir)
        cls.vigild.start()
        cls.client = Client(cls.vigild.address, dev_identity=SUPERVISOR,
                            purpose="python client e2e", timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        code = cls.vigild.stop()
        assert code == 0, f"vigild exited with {code}; see {cls.dir}/vigild.log"
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_create_then_get_offender(self):
        alan = {"display_name": "Alan Example", "visor_ref": "VISOR-PY-1",
                "owner_officer": "DC 100", "team": "north",
                "registered_time": "2024-03-01T10:00:00Z",
                "notification_period": "NOTIFICATION_PERIOD_INDEFINITE"}
        created = self.client.offenders.CreateOffender(offender=alan, request_id="create-alan")
        self.assertTrue(created.id)
        self.assertEqual(created.force, "wessex")
        self.assertEqual(created.status, v1.OFFENDER_STATUS_ACTIVE_COMMUNITY)
        self.assertTrue(created.obligations, "a new registration opens its clocks")

        got = self.client.offenders.GetOffender(id=created.id)
        self.assertEqual(got.display_name, "Alan Example")
        self.assertEqual(got.visor_ref, "VISOR-PY-1")
        self.assertEqual(got.registered_time.ToJsonString(), "2024-03-01T10:00:00Z")

        again = self.client.offenders.CreateOffender(offender=alan, request_id="create-alan")
        self.assertEqual(again.id, created.id, "a retry with the same request_id writes nothing")
        # The same request_id with another request is refused, naming the fix.
        with self.assertRaises(vigil_client.FailedPrecondition) as refused:
            self.client.offenders.CreateOffender(offender=created, request_id="create-alan")
        self.assertIn("use a new request_id", str(refused.exception))

    def test_list_offenders_follows_every_page(self):
        made = set()
        for i in range(7):
            offender = self.client.offenders.CreateOffender(
                offender={"display_name": f"Paged {i}", "owner_officer": "DC 7",
                          "team": "paging", "registered_time": vigil_client.timestamp(
                              __import__("datetime").date(2024, 1, 1 + i))})
            made.add(offender.id)
        pages = list(self.client.offenders.ListOffenders.pages(team="paging", page_size=3))
        self.assertEqual([len(p.offenders) for p in pages], [3, 3, 1])
        self.assertEqual(pages[-1].next_page_token, "")
        listed = [o.id for o in self.client.offenders.ListOffenders.items(team="paging",
                                                                           page_size=3)]
        self.assertEqual(len(listed), len(set(listed)), "no offender twice")
        self.assertEqual(set(listed), made)
        self.assertEqual(listed, sorted(listed), "id order")

    def test_unknown_offender_is_not_found(self):
        with self.assertRaises(NotFound) as raised:
            self.client.offenders.GetOffender(id="RSO-NOBODY")
        error = raised.exception
        self.assertIsInstance(error, VigilError)
        self.assertEqual(error.code.name, "NOT_FOUND")
        self.assertEqual(error.rpc, "vigil.v1.OffenderService/GetOffender")
        self.assertIn("RSO-NOBODY", error.details)

    def test_call_without_identity_is_unauthenticated(self):
        with Client(self.vigild.address, purpose="no identity") as anonymous:
            with self.assertRaises(Unauthenticated) as raised:
                anonymous.offenders.GetOffender(id="RSO-1")
        self.assertIn("x-vigil-actor", raised.exception.details)

    def test_unreachable_server_fails_fast(self):
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with Client(f"127.0.0.1:{port}", dev_identity=SUPERVISOR, timeout=30) as nowhere:
            started = time.monotonic()
            with self.assertRaises(Unreachable) as raised:
                nowhere.offenders.GetOffender(id="RSO-1")
            elapsed = time.monotonic() - started
        self.assertIsInstance(raised.exception, Unavailable)
        self.assertIn(f"127.0.0.1:{port}", str(raised.exception))
        self.assertLess(elapsed, 5, "refused connections fail at once, not at the deadline")

    def test_expired_token_fails_before_sending(self):
        def b64(obj):
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
        expired = ".".join([b64({"alg": "ES256", "typ": "JWT"}),
                            b64({"sub": "DC 100", "exp": int(time.time()) - 3600}), "c2ln"])
        with Client(self.vigild.address, token=lambda: expired) as client:
            with self.assertRaises(TokenExpired) as raised:
                client.offenders.GetOffender(id="RSO-1")
        self.assertIsInstance(raised.exception, Unauthenticated)
        self.assertIn("expired at", str(raised.exception))

    def test_bad_options_are_refused_at_construction(self):
        with self.assertRaises(ConfigurationError):
            Client("vigil.example.org:443")  # plaintext beyond loopback
        with self.assertRaises(ConfigurationError):
            Client("vigil.example.org:443", tls_ca=os.path.join(self.dir, "missing-ca.crt"))
        not_pem = os.path.join(self.dir, "not-a-ca.crt")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        with self.assertRaises(ConfigurationError):
            Client("vigil.example.org:443", tls_ca=not_pem)
        with self.assertRaises(ConfigurationError):
            DevIdentity("DC 1", "constable", "wessex")


    def test_examples_run(self):
        make_referrals(self.client, "example", 2)
        examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
        env = dict(os.environ, VIGIL_SERVER=self.vigild.address, VIGIL_ACTOR="Insp Reid",
                   VIGIL_ROLE="supervisor", VIGIL_FORCE="wessex", VIGIL_PURPOSE="examples e2e")
        backlog = subprocess.run(
            [sys.executable, os.path.join(examples, "weekly_backlog.py"), "--top", "3"],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(backlog.returncode, 0, backlog.stderr)
        self.assertIn("Backlog of force wessex", backlog.stdout)
        self.assertIn("referral action", backlog.stdout)

        cursor = os.path.join(self.dir, "mailer.cursor")
        mailer = subprocess.run(
            [sys.executable, os.path.join(examples, "alert_to_email.py"), "--cursor-file", cursor,
             "--max-events", "1"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(mailer.returncode, 0, mailer.stderr)
        self.assertIn("Subject: [vigil] raised:", mailer.stdout)
        with open(cursor) as f:
            self.assertGreaterEqual(int(f.read()), 1)


def vigil_cli(*args):
    """Runs the vigil CLI (`vigil certs`, `vigil token`) and returns its stdout."""
    run = subprocess.run([ARGS.vigil, *args], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError(f"vigil {' '.join(args)} exited with {run.returncode}: {run.stderr}")
    return run.stdout


class TlsAndTokens(unittest.TestCase):
    """The client over TLS to a vigild that proves who calls (docs/security.md): by the client
    certificate (--auth=mtls) or by a bearer token (--auth=jwt). Certificates come from
    `vigil certs`, the token-signing key, its JWKS and the tokens from `vigil token`."""

    @classmethod
    def setUpClass(cls):
        cls.dir = temp_dir("tls")
        cls.pki = os.path.join(cls.dir, "pki")
        vigil_cli("certs", "create-ca", "--dir", cls.pki)
        vigil_cli("certs", "create-server", "--dir", cls.pki, "--host", "127.0.0.1")
        vigil_cli("certs", "create-client", "--dir", cls.pki, "--actor", "DS Holt",
                  "--role", "supervisor", "--force", "wessex", "--team", "north",
                  "--rank", "sergeant")
        cls.ca = os.path.join(cls.pki, "ca.crt")
        cls.other_ca = os.path.join(cls.dir, "other-pki", "ca.crt")
        vigil_cli("certs", "create-ca", "--dir", os.path.dirname(cls.other_ca))
        cls.keys = os.path.join(cls.dir, "tokens")
        vigil_cli("token", "create-key", "--dir", cls.keys)
        tls = ["--tls-cert", os.path.join(cls.pki, "server.crt"),
               "--tls-key", os.path.join(cls.pki, "server.key")]

        cls.mtls = VigildProcess(ARGS.vigild, os.path.join(cls.dir, "mtls"),
                                 ["--auth=mtls", *tls, "--tls-client-ca", cls.ca])
        cls.addClassCleanup(cls.mtls.stop)  # also when setUpClass fails further on
        cls.mtls.start()
        # No leeway on exp, so that a token a second past its expiry is refused at once.
        cls.jwt = VigildProcess(ARGS.vigild, os.path.join(cls.dir, "jwt"),
                                ["--auth=jwt", *tls, "--jwks", os.path.join(cls.keys, "jwks.json"),
                                 "--jwt-issuer", "vigil-dev", "--jwt-audience", "vigil",
                                 "--jwt-leeway-seconds", "0"])
        cls.addClassCleanup(cls.jwt.stop)
        cls.jwt.start()

    @classmethod
    def tearDownClass(cls):
        codes = [cls.mtls.stop(), cls.jwt.stop()]
        assert codes == [0, 0], f"vigild exited with {codes}; see {cls.dir}/*/vigild.log"
        shutil.rmtree(cls.dir, ignore_errors=True)

    def token(self, ttl_seconds=600, force="wessex"):
        return vigil_cli("token", "dev", "--key", os.path.join(self.keys, "token-signing.key"),
                         "--actor", "DC 100", "--role", "officer", "--force", force,
                         "--team", "north", "--ttl-seconds", str(ttl_seconds)).strip()

    def create_and_get(self, client, tag):
        created = client.offenders.CreateOffender(
            offender={"display_name": f"TLS {tag}", "owner_officer": "DC 100", "team": "north",
                      "registered_time": "2024-03-01T10:00:00Z"}, request_id=f"tls-{tag}")
        self.assertEqual(client.offenders.GetOffender(id=created.id).display_name, f"TLS {tag}")
        return created

    def test_mtls_client_certificate_is_the_identity(self):
        with Client(self.mtls.address, tls_ca=self.ca,
                    tls_cert=os.path.join(self.pki, "client.ds-holt.crt"),
                    tls_key=os.path.join(self.pki, "client.ds-holt.key"),
                    purpose="python tls e2e") as client:
            self.assertTrue(client.tls)
            created = self.create_and_get(client, "mtls")
        self.assertEqual(created.force, "wessex", "the force comes from the certificate's O")

    def test_mtls_refuses_a_client_without_certificate(self):
        # vigild refuses the handshake (its log: "peer did not return a certificate"). Under TLS
        # 1.3 the client has finished its side by then and sees only the socket closing, so this
        # is an Unreachable (nothing was sent), not a TlsHandshakeFailed.
        with Client(self.mtls.address, tls_ca=self.ca, timeout=10,
                    dev_identity=DevIdentity("DS Holt", "supervisor", "wessex")) as client:
            with self.assertRaises(Unreachable) as raised:
                client.offenders.GetOffender(id="RSO-1")
        self.assertIn(self.mtls.address, str(raised.exception))

    def test_bearer_token_from_vigil_token_dev(self):
        with Client(self.jwt.address, tls_ca=self.ca, token=self.token(),
                    purpose="python token e2e") as client:
            created = self.create_and_get(client, "jwt")
        self.assertEqual(created.force, "wessex", "the force comes from the token")

        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write(self.token(force="eastshire") + "\n")
        with Client(self.jwt.address, tls_ca=self.ca, token_file=token_file,
                    purpose="python token e2e") as eastshire:
            with self.assertRaises(NotFound):
                eastshire.offenders.GetOffender(id=created.id)

    def test_no_token_is_unauthenticated(self):
        with Client(self.jwt.address, tls_ca=self.ca, purpose="python token e2e") as client:
            with self.assertRaises(Unauthenticated) as raised:
                client.offenders.GetOffender(id="RSO-1")
        self.assertIn("no bearer token", raised.exception.details)

    def test_wrong_ca_is_tls_handshake_failed(self):
        with Client(self.jwt.address, tls_ca=self.other_ca, token=self.token(),
                    timeout=10) as client:
            started = time.monotonic()
            with self.assertRaises(TlsHandshakeFailed) as raised:
                client.offenders.GetOffender(id="RSO-1")
        self.assertIsInstance(raised.exception, Unreachable)
        self.assertIn(self.jwt.address, str(raised.exception))
        self.assertLess(time.monotonic() - started, 5, "a refused handshake fails at once")

    def test_expired_token_is_refused_by_the_server(self):
        token = self.token(ttl_seconds=1)
        expiry = vigil_client.jwt_expiry(token)
        time.sleep(max(0.0, expiry + 1.2 - time.time()))
        # The client's own check would let it through for an hour: vigild is the one refusing.
        with Client(self.jwt.address, tls_ca=self.ca, token=token, token_leeway=3600,
                    purpose="python token e2e") as client:
            with self.assertRaises(Unauthenticated) as raised:
                client.offenders.GetOffender(id="RSO-1")
        self.assertNotIsInstance(raised.exception, TokenExpired, "refused by vigild, not the client")
        self.assertIn("token: expired at", raised.exception.details)


class SubscriptionAcrossRestarts(unittest.TestCase):
    """A resumed alert subscription delivers every event once, in order, across a reconnect
    after a vigild restart (SIGTERM, same port and data) and across a restart of the
    subscriber itself (the cursor file)."""

    def setUp(self):
        self.dir = temp_dir("subscription")
        self.vigild = VigildProcess(ARGS.vigild, self.dir)
        self.vigild.start()
        self.client = Client(self.vigild.address, dev_identity=SUPERVISOR,
                             purpose="python subscription e2e", timeout=30)
        self.cursor = os.path.join(self.dir, "alerts.cursor")
        self.seen = []          # (sequence, type, alert id) in delivery order
        self.raised_for = set()  # referral ids with a RAISED event seen
        self.passed = False

    def tearDown(self):
        self.client.close()
        code = self.vigild.stop()
        self.assertEqual(code, 0, f"vigild exited with {code}; see {self.dir}/vigild.log")
        if self.passed:  # a failure keeps the directory and vigild's log
            shutil.rmtree(self.dir, ignore_errors=True)

    def record(self, event):
        self.seen.append((event.sequence, event.type, event.alert.id))
        if event.type == v1.ALERT_EVENT_TYPE_RAISED:
            self.raised_for.add(event.alert.obligation.subject_id)

    def stored_cursor(self):
        with open(self.cursor) as f:
            return int(f.read())

    def test_every_event_once_across_vigild_and_subscriber_restarts(self):
        first = set(make_referrals(self.client, "first", 3))

        # (a) A subscriber reads until it has seen the first alerts, then stops cleanly.
        with self.client.subscribe_alerts(cursor_file=self.cursor) as subscription:
            for event in subscription:
                self.record(event)
                if first <= self.raised_for:
                    break
        self.assertEqual(self.stored_cursor(), self.seen[-1][0])

        # (b) Alerts are raised while nobody listens. A new subscriber (the same cursor file)
        # takes one event, then vigild is stopped with SIGTERM and started again on the same
        # port and data: the rest arrive after a reconnect, with more raised after the restart.
        away = set(make_referrals(self.client, "away", 4))
        reconnects = []
        subscription = self.client.subscribe_alerts(
            cursor_file=self.cursor, max_backoff=0.5,
            on_reconnect=lambda error, attempt, delay: reconnects.append(error))
        restarted, later = False, set()
        for event in subscription:
            self.record(event)
            if not restarted:
                self.vigild.restart()
                self.client.wait_ready(30)
                later = set(make_referrals(self.client, "later", 3))
                restarted = True
            if (first | away | later) <= self.raised_for:
                break
        subscription.close()
        self.assertTrue(reconnects, "the subscription reconnected after the restart")
        self.assertTrue(all(isinstance(e, Unavailable) for e in reconnects), reconnects)
        self.assertEqual(self.stored_cursor(), self.seen[-1][0])

        # (c) One more alert: a subscriber resuming from the cursor file gets exactly it next.
        (last,) = make_referrals(self.client, "last", 1)
        with self.client.subscribe_alerts(cursor_file=self.cursor) as subscription:
            event = next(subscription)
            self.record(event)
        self.assertEqual(event.alert.obligation.subject_id, last)

        # Every sequence once, in order, from 1, none missing; one RAISED per alert.
        sequences = [s for s, _, _ in self.seen]
        self.assertEqual(sequences, list(range(1, len(sequences) + 1)))
        raised = [a for _, t, a in self.seen if t == v1.ALERT_EVENT_TYPE_RAISED]
        self.assertEqual(len(raised), len(set(raised)))
        self.assertEqual(self.raised_for, first | away | later | {last})

        # And it is what a single uninterrupted reading of the feed from 0 gives.
        reference = []
        for event in self.client.alerts.Subscribe(resume_after_sequence=0, timeout=30):
            reference.append((event.sequence, event.type, event.alert.id))
            if event.sequence == sequences[-1]:
                break
        self.assertEqual(reference, self.seen)

        # SubscribeBatches through the same subscription: the same events, then the cursor.
        batched_cursor = os.path.join(self.dir, "batched.cursor")
        batched = []
        with self.client.subscribe_alerts(batches=True, cursor_file=batched_cursor) as subscription:
            for event in subscription:
                batched.append((event.sequence, event.type, event.alert.id))
                if event.sequence == sequences[-1]:
                    break
        self.assertEqual(batched, self.seen)
        with open(batched_cursor) as f:
            self.assertEqual(int(f.read()), sequences[-1])
        self.passed = True


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--vigil", help="the vigil CLI (default: next to vigild in the build)")
    ARGS, rest = parser.parse_known_args()
    if ARGS.vigil is None:
        build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(ARGS.vigild))))
        ARGS.vigil = os.path.join(build, "clients", "cli", "vigil")
    print(f"vigil_client {vigil_client.__version__} from {os.path.dirname(vigil_client.__file__)}",
          file=sys.stderr)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
