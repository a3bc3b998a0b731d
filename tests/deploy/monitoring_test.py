#!/usr/bin/python3
"""deploy/monitoring against a real vigild: its alert rules are well formed (and pass `promtool
check rules` where Debian's prometheus package is installed), and every vigil_ family the rules
and the Grafana dashboard use is one that vigild, started here with --metrics-listen, exports.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import yaml

ARGS = None
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONITORING = os.path.join(ROOT, "deploy/monitoring")
RULES = os.path.join(MONITORING, "vigil-rules.yaml")
DASHBOARD = os.path.join(MONITORING, "vigil-dashboard.json")
METRIC = re.compile(r"\bvigil_[a-zA-Z0-9_]+")


def families_used(expr):
    """The vigil_ families an expression reads (histogram series map to their family)."""
    used = set()
    for name in METRIC.findall(expr):
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                used.add(name[: -len(suffix)])
                break
        else:
            used.add(name)
    return used


class Vigild:
    """vigild with --metrics-listen 127.0.0.1:0 and a backup dir, in a temporary directory."""

    def __init__(self, directory):
        self.log_path = os.path.join(directory, "vigild.log")
        self.log = open(self.log_path, "w")
        port_file = os.path.join(directory, "port")
        self.proc = subprocess.Popen(
            [ARGS.vigild, "--data-dir", os.path.join(directory, "data"), "--listen", "127.0.0.1:0",
             "--port-file", port_file, "--metrics-listen", "127.0.0.1:0",
             "--backup-dir", os.path.join(directory, "backups")],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError("vigild did not start:\n" + open(self.log_path).read())
            time.sleep(0.05)
        self.grpc_port = int(open(port_file).read())
        match = re.search(r"Prometheus metrics on http://127\.0\.0\.1:(\d+)/metrics",
                          open(self.log_path).read())
        assert match, open(self.log_path).read()
        self.metrics_port = int(match.group(1))

    def scrape(self):
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


class MonitoringTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="vigil-monitoring-")
        cls.vigild = Vigild(cls.dir)
        # One call through the RPC layer, so that the per-RPC families exist.
        env = dict(os.environ, VIGIL_SERVER="127.0.0.1:%d" % cls.vigild.grpc_port,
                   VIGIL_ACTOR="Ops", VIGIL_ROLE="force-admin", VIGIL_FORCE="wessex")
        subprocess.run([ARGS.vigil, "metrics"], env=env, check=True, capture_output=True)
        # The alerts context follows its feeds shortly after start.
        deadline = time.time() + 30
        while time.time() < deadline:
            text = cls.vigild.scrape()
            if "vigil_alerts_feed_applied_ocait" in text:
                break
            time.sleep(0.2)
        cls.exported = set(re.findall(r"^# TYPE (vigil_\S+) ", text, re.M))

    @classmethod
    def tearDownClass(cls):
        cls.vigild.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def assert_exported(self, families, where):
        missing = sorted(f for f in families if f not in self.exported)
        self.assertEqual(missing, [], "%s uses families vigild does not export (it exports %s)"
                         % (where, sorted(self.exported)))

    def test_rules_are_well_formed_and_use_exported_families(self):
        with open(RULES) as f:
            rules = yaml.safe_load(f)
        names = set()
        self.assertTrue(rules["groups"])
        for group in rules["groups"]:
            self.assertTrue(group["name"])
            for rule in group["rules"]:
                self.assertEqual(set(rule) - {"alert", "expr", "for", "labels", "annotations"},
                                 set(), rule)
                self.assertNotIn(rule["alert"], names, "duplicate alert")
                names.add(rule["alert"])
                self.assertIn(rule["labels"]["severity"], ("warning", "critical"))
                self.assertTrue(rule["annotations"]["summary"])
                self.assertRegex(rule["for"], r"^\d+[smh]$")
                expr = rule["expr"]
                self.assertEqual(expr.count("("), expr.count(")"), expr)
                used = families_used(expr)
                self.assertTrue(used, rule["alert"])
                self.assert_exported(used, "alert " + rule["alert"])
        # What #16 asks the rules to catch.
        text = open(RULES).read()
        for family in ("vigil_backup_last_success_unixtime", "vigil_alerts_scan_backlog_seconds",
                       "vigil_data_volume_available_bytes"):
            self.assertIn(family, text)
        promtool = shutil.which("promtool")
        if promtool:
            done = subprocess.run([promtool, "check", "rules", RULES], capture_output=True,
                                  text=True)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_dashboard_uses_exported_families(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        self.assertEqual(dashboard["uid"], "vigil-overview")
        used = set()
        for panel in dashboard["panels"]:
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                used |= families_used(target["expr"])
        self.assertIn("vigil_backlog_overdue", used)
        self.assert_exported(used, "the dashboard")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--vigil", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
