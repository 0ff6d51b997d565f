"""A respct-memnode of the harness's own, on a temporary sparse pool under
/dev/shm (as the C++ benches do: msync of tmpfs costs little, so numbers are
respct's, not a disk's), with its own secret; stopped with SIGTERM by pid."""
import os
import signal
import subprocess
import tempfile
import time


class Memnode:
    def __init__(self, ctx, ring_size="256M", pool_size="16G"):
        root = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = tempfile.mkdtemp(prefix="respct-runall-", dir=root)
        self.secret_file = os.path.join(self.dir, "secret")
        with open(os.open(self.secret_file, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(32))
        self.shm_url = "shm://" + os.path.join(self.dir, "s.sock")
        ready = os.path.join(self.dir, "ready")
        self.log = open(os.path.join(self.dir, "memnode.log"), "w")
        self.proc = subprocess.Popen(
            [ctx.binary("bin/respct-memnode"), "--pool", os.path.join(self.dir, "pool"), "--size", pool_size,
             "--listen", self.shm_url, "--listen", "tcp://127.0.0.1:0", "--secret-file", self.secret_file,
             "--ring-size", ring_size, "--ready-file", ready, "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("respct-memnode did not start: " + self.log_tail())
            time.sleep(0.05)
        # The ready file: the pid, then each listener as bound (port 0 resolved).
        with open(ready) as f:
            self.tcp_url = next(u for u in f.read().split()[1:] if u.startswith("tcp://"))

    def url(self, transport):
        return self.shm_url if transport == "shm" else self.tcp_url

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "memnode.log")) as f:
                return " | ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
