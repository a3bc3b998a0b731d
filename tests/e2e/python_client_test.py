#!/usr/bin/python3
"""End-to-end: a Python grpcio client (Debian's python3-grpcio) reaches a real vigild through
the standard health service and server reflection, then calls a vigil RPC with identity
metadata, as a force system written in Python would."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.stubs)
        cls.dir = tempfile.mkdtemp(prefix="vigil-python-e2e.")
        port_file = os.path.join(cls.dir, "port")
        cls.log = open(os.path.join(cls.dir, "vigild.log"), "w")
        cls.vigild = subprocess.Popen(
            [ARGS.vigild, "--data-dir", os.path.join(cls.dir, "data"),
             "--listen", "127.0.0.1:0", "--port-file", port_file],
            stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not os.path.exists(port_file):
            if cls.vigild.poll() is not None:
                raise RuntimeError("vigild exited early; see " + cls.log.name)
            if time.monotonic() > deadline:
                raise RuntimeError("vigild did not start; see " + cls.log.name)
            time.sleep(0.02)
        with open(port_file) as f:
            cls.address = "127.0.0.1:" + f.read().strip()

        import grpc
        cls.grpc = grpc
        cls.channel = grpc.insecure_channel(cls.address)
        grpc.channel_ready_future(cls.channel).result(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.vigild.send_signal(signal.SIGTERM)
        code = cls.vigild.wait(timeout=60)
        cls.log.close()
        assert code == 0, "vigild exited with %d" % code

    def test_health_overall_and_per_service(self):
        from vigil_grpc_std import health_pb2, health_pb2_grpc
        stub = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", "vigil.v1.AuditService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING, service)

    def test_reflection_lists_and_describes_services(self):
        from vigil_grpc_std import reflection_pb2, reflection_pb2_grpc
        from google.protobuf import descriptor_pb2
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)

        def ask(**kwargs):
            request = reflection_pb2.ServerReflectionRequest(**kwargs)
            return next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))

        services = {s.name for s in ask(list_services="").list_services_response.service}
        self.assertIn("vigil.v1.AuditService", services)
        self.assertIn("grpc.health.v1.Health", services)

        reply = ask(file_containing_symbol="vigil.v1.AuditService")
        methods = set()
        for blob in reply.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(blob)
            for service in fd.service:
                if service.name == "AuditService":
                    methods.update(m.name for m in service.method)
        self.assertEqual(methods, {"ListAuditRecords", "VerifyAuditChain", "ExportAuditRecords"})

    def test_vigil_rpc_needs_identity(self):
        from vigil.v1 import audit_pb2, audit_pb2_grpc
        stub = audit_pb2_grpc.AuditServiceStub(self.channel)
        with self.assertRaises(self.grpc.RpcError) as raised:
            stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(), timeout=10)
        self.assertEqual(raised.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)

        metadata = [("x-vigil-actor", "Auditor P"), ("x-vigil-role", "auditor"),
                    ("x-vigil-force", "wessex"), ("x-vigil-purpose", "python e2e")]
        stub.ListAuditRecords(audit_pb2.ListAuditRecordsRequest(), metadata=metadata, timeout=10)
        reply = stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(), metadata=metadata,
                                      timeout=10)
        self.assertTrue(reply.ok)
        self.assertGreaterEqual(reply.records_checked, 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigild", required=True)
    parser.add_argument("--stubs", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
