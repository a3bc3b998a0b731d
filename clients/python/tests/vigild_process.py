"""Starts the real vigild for a test, on 127.0.0.1 with a free port, in the test's own directory
(data and log kept there); restart() keeps the port and the data, as a deployment would. It runs
with --auth=dev unless given other security flags (TLS files, another --auth)."""

import os
import signal
import subprocess
import time


class VigildProcess:
    def __init__(self, binary, directory, security=("--auth=dev",)):
        self.binary = binary
        self.directory = directory
        self.security = list(security)
        self.data_dir = os.path.join(directory, "data")
        self.port = 0
        self.process = None
        self._log = None
        os.makedirs(directory, exist_ok=True)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self, *extra, timeout=60):
        """Starts vigild (on the port it had, if it ran before) and waits for its port file."""
        port_file = os.path.join(self.directory, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self._log = open(os.path.join(self.directory, "vigild.log"), "a")
        self.process = subprocess.Popen(
            [self.binary, *self.security, "--data-dir", self.data_dir,
             "--listen", f"127.0.0.1:{self.port}", "--port-file", port_file, *extra],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not _read(port_file):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"vigild exited with {self.process.returncode}; see {self._log.name}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"vigild did not start in {timeout}s; see {self._log.name}")
            time.sleep(0.02)
        self.port = int(_read(port_file))
        return self.address

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops vigild with `sig` and returns its exit code."""
        if self.process is None:
            return None
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        self._log.close()
        return code

    def restart(self):
        code = self.stop()
        if code != 0:
            raise RuntimeError(
                f"vigild exited with {code} on SIGTERM; see {self.directory}/vigild.log")
        return self.start()


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""
