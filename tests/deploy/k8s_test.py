#!/usr/bin/python3
"""The Kubernetes manifests, offline: `kubectl kustomize` renders every overlay, `yamllint`
passes, and the rendered objects say what docs/deploy.md promises (one writer per shard, gRPC
probes, the volume, the security context, who may reach a shard, each force's name where it
must be). Also checks that every force has its overlay, its proxy route and its --shards entry.

Runs with any kubectl whose kustomize is 2.0.3 (Debian bookworm's kubernetes-client) or newer.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import unittest

import yaml

ARGS = None
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = os.path.join(ROOT, "deploy/k8s")
OVERLAYS = os.path.join(K8S, "overlays")
HAPROXY_DIR = os.path.join(ROOT, "deploy/haproxy")


def render(path):
    done = subprocess.run([ARGS.kubectl, "kustomize", path], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError("kubectl kustomize %s failed:\n%s" % (path, done.stderr))
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def one(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, "%d %s %s in %s" % (len(found), kind, name,
                                                [(o["kind"], o["metadata"]["name"]) for o in objects])
    return found[0]


def forces():
    return sorted(d for d in os.listdir(OVERLAYS) if os.path.isdir(os.path.join(OVERLAYS, d)))


def flag(args, name):
    """The value of --name=VALUE in a container's args, or None."""
    for a in args:
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def selects(selector, labels):
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions", []):
        value = labels.get(e["key"])
        if e["operator"] == "In" and value not in e["values"]:
            return False
        if e["operator"] == "NotIn" and value in e["values"]:
            return False
        if e["operator"] == "Exists" and value is None:
            return False
        if e["operator"] == "DoesNotExist" and value is not None:
            return False
    return True


class Checks(unittest.TestCase):
    def assertHardened(self, pod_spec, fs_group=True):
        pod = pod_spec["securityContext"]
        self.assertTrue(pod["runAsNonRoot"])
        self.assertGreater(pod["runAsUser"], 0)
        if fs_group:
            self.assertIn("fsGroup", pod)
        self.assertEqual(pod["seccompProfile"]["type"], "RuntimeDefault")
        self.assertFalse(pod_spec.get("automountServiceAccountToken", True))
        for c in pod_spec["containers"]:
            sc = c["securityContext"]
            self.assertTrue(sc["readOnlyRootFilesystem"], c["name"])
            self.assertFalse(sc["allowPrivilegeEscalation"], c["name"])
            self.assertEqual(sc["capabilities"]["drop"], ["ALL"], c["name"])
            self.assertIn("limits", c["resources"])
            self.assertIn("requests", c["resources"])

    def assertGrpcProbes(self, container, probes):
        health_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "health")
        for probe in probes:
            spec = container[probe]
            self.assertEqual(set(spec) & {"grpc", "httpGet", "exec", "tcpSocket"}, {"grpc"}, probe)
            self.assertEqual(spec["grpc"]["port"], health_port, probe)

    def assertMountedReadOnlyFrom(self, pod_spec, container, path, sources):
        """The file at path comes from a read-only mount of a Secret or ConfigMap volume."""
        mount = max((m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")),
                    key=lambda m: len(m["mountPath"]), default=None)
        self.assertIsNotNone(mount, path)
        self.assertTrue(mount.get("readOnly"), path)
        volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
        self.assertTrue(set(volume) & set(sources), (path, volume))
        return volume


class ShardOverlayTest(Checks):
    def test_every_overlay(self):
        for force in forces():
            with self.subTest(force=force):
                self.check_shard(force, render(os.path.join(OVERLAYS, force)))

    def check_shard(self, force, objects):
        for o in objects:
            self.assertEqual(o["metadata"]["labels"].get("vigil/force"), force,
                             (o["kind"], o["metadata"]["name"]))
            self.assertEqual(o["metadata"].get("namespace"), "vigil")

        sts = one(objects, "StatefulSet", "vigild-" + force)
        spec = sts["spec"]
        self.assertEqual(spec["replicas"], 1)
        self.assertEqual(spec["serviceName"], "vigild-headless-" + force)
        pod_labels = spec["template"]["metadata"]["labels"]
        self.assertEqual(pod_labels["vigil/force"], force)
        self.assertTrue(selects(spec["selector"], pod_labels))
        self.assertEqual(spec["selector"]["matchLabels"]["vigil/force"], force)

        pod = spec["template"]["spec"]
        self.assertHardened(pod)
        self.assertEqual(pod["securityContext"]["fsGroupChangePolicy"], "OnRootMismatch")
        vigild = one([dict(c, kind="c", metadata={"name": c["name"]}) for c in pod["containers"]],
                     "c", "vigild")
        self.assertGrpcProbes(vigild, ("startupProbe", "readinessProbe", "livenessProbe"))

        args = vigild["args"]
        grace = int(flag(args, "--shutdown-grace-seconds"))
        self.assertGreater(pod["terminationGracePeriodSeconds"], grace + 10)
        self.assertEqual(flag(args, "--auth"), "jwt")
        for name in ("--jwt-issuer", "--jwt-audience"):
            self.assertTrue(flag(args, name), name)
        tls = self.assertMountedReadOnlyFrom(pod, vigild, flag(args, "--tls-cert"), ["secret"])
        self.assertEqual(tls["secret"]["secretName"], "vigild-tls-" + force)
        self.assertMountedReadOnlyFrom(pod, vigild, flag(args, "--tls-key"), ["secret"])
        self.assertMountedReadOnlyFrom(pod, vigild, flag(args, "--tls-client-ca"),
                                       ["secret", "configMap"])
        self.assertMountedReadOnlyFrom(pod, vigild, flag(args, "--jwks"), ["secret", "configMap"])
        data_dir = flag(args, "--data-dir")
        data_mount = next(m for m in vigild["volumeMounts"] if m["name"] == "data")
        self.assertTrue(data_dir.startswith(data_mount["mountPath"] + "/"),
                        "the store must be a subdirectory of the volume")

        claims = {c["metadata"]["name"]: c for c in spec["volumeClaimTemplates"]}
        self.assertEqual(sorted(claims), ["backups", "data", "witness"])
        for claim in claims.values():
            self.assertEqual(claim["spec"]["accessModes"], ["ReadWriteOnce"])
        self.assertEqual(claims["data"]["spec"]["resources"]["requests"]["storage"], "20Gi")
        # Backups on a volume of their own, taken hourly (docs/operations.md, Backups).
        backup_dir = flag(args, "--backup-dir")
        backup_mount = next(m for m in vigild["volumeMounts"] if m["name"] == "backups")
        self.assertTrue(backup_dir.startswith(backup_mount["mountPath"] + "/"))
        self.assertFalse(backup_dir.startswith(data_mount["mountPath"] + "/"))
        self.assertEqual(flag(args, "--backup-every"), "1h")
        # The audit witness: checkpoints on a volume of their own, signed with a key from the
        # force's own Secret, neither on the data volume (docs/operations.md, Audit witness).
        witness_dir = flag(args, "--audit-witness-dir")
        witness_mount = next(m for m in vigild["volumeMounts"] if m["name"] == "witness")
        self.assertTrue(witness_dir == witness_mount["mountPath"]
                        or witness_dir.startswith(witness_mount["mountPath"] + "/"))
        self.assertFalse(witness_dir.startswith(data_mount["mountPath"] + "/"))
        self.assertFalse(witness_mount.get("readOnly", False))
        signing = self.assertMountedReadOnlyFrom(pod, vigild, flag(args, "--audit-signing-key"),
                                                 ["secret"])
        self.assertEqual(signing["secret"]["secretName"], "vigild-audit-signing-" + force)
        self.assertEqual(flag(args, "--metrics-listen"), "0.0.0.0:9464")

        cluster_ip = one(objects, "Service", "vigild-" + force)
        headless = one(objects, "Service", "vigild-headless-" + force)
        self.assertNotEqual(cluster_ip["spec"].get("clusterIP"), "None")
        self.assertEqual(headless["spec"]["clusterIP"], "None")
        for svc in (cluster_ip, headless):
            self.assertEqual(svc["spec"]["selector"]["vigil/force"], force)
            self.assertTrue(selects({"matchLabels": svc["spec"]["selector"]}, pod_labels))
            self.assertEqual([p["port"] for p in svc["spec"]["ports"]], [7420])

        pdb = one(objects, "PodDisruptionBudget", "vigild-" + force)
        self.assertTrue(selects(pdb["spec"]["selector"], pod_labels))
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"]["vigil/force"], force)

        policy = one(objects, "NetworkPolicy", "vigild-" + force)
        self.assertTrue(selects(policy["spec"]["podSelector"], pod_labels))
        self.assertEqual(policy["spec"]["podSelector"]["matchLabels"]["vigil/force"], force)
        rule, metrics_rule = policy["spec"]["ingress"]
        self.assertEqual(rule["ports"], [{"protocol": "TCP", "port": 7420}])
        self.assertEqual(metrics_rule["ports"], [{"protocol": "TCP", "port": 9464}])
        self.assertEqual(metrics_rule["from"][0]["podSelector"]["matchExpressions"][0]["values"],
                         ["prometheus"])
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress"])

        cron = one(objects, "CronJob", "vigild-backup-" + force)
        job_pod = cron["spec"]["jobTemplate"]["spec"]["template"]
        self.assertHardened(job_pod["spec"])
        self.assertEqual(job_pod["metadata"]["labels"]["vigil/force"], force)
        (backup,) = job_pod["spec"]["containers"]
        self.assertEqual(backup["command"], ["vigil"])
        self.assertEqual(backup["args"][-3:], ["admin", "backup", "create"])
        env = {e["name"]: e.get("value") for e in backup["env"]}
        self.assertEqual(env["VIGIL_SERVER"], "vigild-%s:7420" % force)
        client = self.assertMountedReadOnlyFrom(job_pod["spec"], backup,
                                                flag(backup["args"], "--cert"), ["secret"])
        self.assertEqual(client["secret"]["secretName"], "vigild-backup-client-" + force)
        self.assertEqual(cron["spec"]["concurrencyPolicy"], "Forbid")
        # The shard's NetworkPolicy lets this job in, and only this shard's job.
        self.assertTrue(any(selects(f["podSelector"], job_pod["metadata"]["labels"])
                            for f in rule["from"]))
        other = dict(job_pod["metadata"]["labels"], **{"vigil/force": force + "-other"})
        self.assertFalse(any(selects(f["podSelector"], other) for f in rule["from"]))


class NationalTest(Checks):
    @classmethod
    def setUpClass(cls):
        cls.national = render(os.path.join(K8S, "national"))
        cls.everything = render(K8S)

    def test_proxy(self):
        proxy = one(self.national, "Deployment", "vigil-proxy")
        pod = proxy["spec"]["template"]["spec"]
        self.assertHardened(pod)
        (haproxy,) = pod["containers"]
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(haproxy[probe]["httpGet"]["path"], "/healthz")
        config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
        config = one(self.national, "ConfigMap", config_volume["configMap"]["name"])
        with open(os.path.join(HAPROXY_DIR, "haproxy.cfg")) as f:
            self.assertEqual(config["data"]["haproxy.cfg"], f.read())
        self.assertNotIn("x-vigil-force", re.sub(r"#.*", "", config["data"]["haproxy.cfg"]))
        mounted = {m["name"]: m["mountPath"] for m in haproxy["volumeMounts"]}
        env = {e["name"]: e["value"] for e in haproxy["env"]}
        self.assertEqual(env["VIGIL_FORCES_MAP"], mounted["config"] + "/forces.map")
        self.assertEqual(haproxy["args"][-1], mounted["config"] + "/haproxy.cfg")

    def test_national_backlog(self):
        backlog = one(self.national, "Deployment", "vigil-national-backlog")
        pod = backlog["spec"]["template"]["spec"]
        self.assertHardened(pod)
        (vigild,) = pod["containers"]
        self.assertGrpcProbes(vigild, ("readinessProbe", "livenessProbe"))
        self.assertEqual(flag(vigild["args"], "--services"), "national-backlog")
        shards = dict(s.split("=", 1) for s in flag(vigild["args"], "--shards").split(","))
        self.assertEqual(shards, {f: "vigild-%s:7420" % f for f in forces()})

    def test_every_force_has_a_route_and_a_shard(self):
        routes = {}
        with open(os.path.join(HAPROXY_DIR, "forces.map")) as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if line:
                    routes[line[0]] = line[1]
        # The national bodies' calls go to the national backlog, not to a shard.
        self.assertEqual(routes.pop("national"), "national_backlog")
        self.assertEqual(sorted(routes), forces())
        with open(os.path.join(HAPROXY_DIR, "haproxy.cfg")) as f:
            text = f.read()
        backends = set(re.findall(r"^backend (\S+)", text, re.M))
        self.assertEqual(set(routes.values()) | {"national_backlog"}, backends)
        self.assertIn("vigil-national-backlog.vigil.svc.cluster.local:7420", text)

    def test_only_the_proxy_national_backlog_and_backup_reach_a_shard(self):
        pods = {}
        for o in self.everything:
            template = o.get("spec", {}).get("template") or \
                o.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
            if template:
                pods[(o["kind"], o["metadata"]["name"])] = template["metadata"]["labels"]
        for force in forces():
            policy = one(self.everything, "NetworkPolicy", "vigild-" + force)
            allowed = {name for name, labels in pods.items()
                       if any(selects(f["podSelector"], labels)
                              for r in policy["spec"]["ingress"] for f in r["from"])}
            self.assertEqual(allowed, {("Deployment", "vigil-proxy"),
                                       ("Deployment", "vigil-national-backlog"),
                                       ("CronJob", "vigild-backup-" + force)})

    def test_whole_deployment_has_no_duplicates(self):
        keys = [(o["kind"], o["metadata"]["name"]) for o in self.everything]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertEqual(len([k for k in keys if k[0] == "StatefulSet"]), len(forces()))


class EnvoyConfigTest(unittest.TestCase):
    """deploy/envoy/envoy.yaml cannot run here (no Envoy in Debian): its routes are checked
    against the forces instead."""

    def test_every_force_has_token_and_certificate_routes_and_a_tls_cluster(self):
        with open(os.path.join(ROOT, "deploy/envoy/envoy.yaml")) as f:
            config = yaml.safe_load(f)
        grpc = next(l for l in config["static_resources"]["listeners"] if l["name"] == "grpc")
        manager = grpc["filter_chains"][0]["filters"][0]["typed_config"]
        routes = manager["route_config"]["virtual_hosts"][0]["routes"]
        clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
        by_token, by_cert = {}, {}
        for r in routes:
            for h in r["match"].get("headers", []):
                if "cluster" not in r.get("route", {}):
                    continue
                match = h["string_match"]
                if h["name"] == "x-vigil-routed-force":
                    by_token[match["exact"]] = r["route"]["cluster"]
                elif h["name"] == "x-forwarded-client-cert":
                    force = re.search(r"O=(\w+)", match["safe_regex"]["regex"]).group(1)
                    by_cert[force] = r["route"]["cluster"]
        self.assertEqual(sorted(by_token), forces())
        self.assertEqual(by_token, by_cert)
        for force, name in by_token.items():
            cluster = clusters[name]
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            self.assertEqual(endpoint["address"]["socket_address"]["address"],
                             "vigild-%s.vigil.svc.cluster.local" % force)
            tls = cluster["transport_socket"]["typed_config"]
            self.assertEqual(tls["sni"], "vigild-%s.vigil.svc" % force)
            sans = tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"]
            self.assertEqual(sans[0]["matcher"]["exact"], "vigild-%s.vigil.svc" % force)
            self.assertNotIn("tls_certificates", tls["common_tls_context"])
        # The routed header is the claim's alone: removed before jwt_authn sets it.
        names = [f["name"] for f in manager["http_filters"]]
        self.assertLess(names.index("envoy.filters.http.header_mutation"),
                        names.index("envoy.filters.http.jwt_authn"))
        self.assertEqual(manager["forward_client_cert_details"], "SANITIZE_SET")


class LintTest(unittest.TestCase):
    def test_yamllint(self):
        if not ARGS.yamllint:
            self.skipTest("yamllint is not installed (apt-get install yamllint)")
        done = subprocess.run([ARGS.yamllint, "--strict", "-c", os.path.join(ROOT, ".yamllint"),
                               os.path.join(ROOT, "deploy")], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL") or shutil.which("kubectl"))
    parser.add_argument("--yamllint", default=shutil.which("yamllint"))
    ARGS, rest = parser.parse_known_args()
    if not ARGS.kubectl:
        print("SKIPPED: kubectl is not installed (apt-get install kubernetes-client)")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
