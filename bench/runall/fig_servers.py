"""servers: Debian's memcached and redis-server under respct (10 ms epochs,
a memnode of the harness's own over shm) against the same server
natively, driven by their own load generators: memcaslap with 4
connections, 90% get / 10% set (64-byte keys, 128-byte values), and
redis-benchmark with 4 connections (GET and SET, random keys). Each run of a
server under respct also reports, from the shim's --stats JSON at exit,
epochs committed and abandoned per second of the server's life."""
import json
import os
import re
import signal
import socket
import subprocess
import time

from .context import CommandFailed, log, run, spread, summary
from .memnode import Memnode

MEMCASLAP_CFG = "key\n64 64 1\nvalue\n128 128 1\ncmd\n0 0.1\n1 0.9\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandFailed(f"{proc.args[0]} ended before listening (exit {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise CommandFailed(f"nothing listens on port {port} after {timeout} s")


def server_argv(server, port):
    if server == "memcached":
        return ["/usr/bin/memcached", "-u", "root", "-p", str(port), "-U", "0", "-l", "127.0.0.1", "-t", "4",
                "-m", "1024"]
    return ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def load(ctx, server, port, seconds):
    """Runs the load generator; returns {op: ops/s}."""
    if server == "memcached":
        cfg = os.path.join(ctx.scratch, "memcaslap.cfg")
        with open(cfg, "w") as f:
            f.write(MEMCASLAP_CFG)
        proc, _ = run(["memcaslap", "-s", f"127.0.0.1:{port}", "-T", "2", "-c", "4", "-t", f"{seconds}s", "-F", cfg],
                      timeout=seconds + 60)
        m = re.findall(r"TPS: (\d+)", proc.stdout)
        if not m:
            raise CommandFailed("memcaslap printed no TPS: " + proc.stdout[-300:])
        return {"90% get": float(m[-1])}
    n = str(20000 if ctx.quick else 200000)
    proc, _ = run(["redis-benchmark", "-p", str(port), "-c", "4", "-n", n, "-r", "100000", "-t", "set,get", "--csv"],
                  timeout=600)
    out = {}
    for line in proc.stdout.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if len(f) >= 2 and f[0] in ("SET", "GET"):
            out[f[0]] = float(f[1])
    if not out:
        raise CommandFailed("redis-benchmark printed no rates: " + proc.stdout[-300:])
    return out


def one_run(ctx, server, respct, mn, rep, seconds):
    port = free_port()
    argv = server_argv(server, port)
    stats = os.path.join(ctx.scratch, f"servers-{server}-{rep}.json")
    if respct:
        argv = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
                "--app", f"bench-{server}", "--fresh", "--epoch-ms", "10", "--stats=json", "--stats-file", stats,
                "--"] + argv
    log("$ " + " ".join(argv))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_listening(port, proc)
        rates = load(ctx, server, port, seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise CommandFailed(f"{server} did not stop on SIGTERM")
    life = time.monotonic() - t0
    epochs = None
    if respct:
        data = json.load(open(stats))
        epochs = {"committed_per_s": data["epochs_committed"] / life, "abandoned_per_s": data["epochs_abandoned"] / life,
                  "tracker": data.get("tracker")}
    return rates, epochs


def run_figure(ctx):
    seconds = 2 if ctx.quick else 10
    rows, headline, tables = [], [], []
    t0 = time.monotonic()
    commands = []
    with Memnode(ctx) as mn:
        for server in ("memcached", "redis"):
            binary = "/usr/bin/memcached" if server == "memcached" else "/usr/bin/redis-server"
            gen = "memcaslap" if server == "memcached" else "redis-benchmark"
            if not os.path.exists(binary) or subprocess.run(["which", gen], capture_output=True).returncode != 0:
                rows.append({"server": server, "skipped": f"{binary} or {gen} not installed"})
                continue
            native, under, committed, abandoned = {}, {}, [], []
            for rep in range(ctx.reps):
                r, _ = one_run(ctx, server, False, mn, rep, seconds)
                for k, v in r.items():
                    native.setdefault(k, []).append(v)
                r, e = one_run(ctx, server, True, mn, rep, seconds)
                for k, v in r.items():
                    under.setdefault(k, []).append(v)
                committed.append(e["committed_per_s"])
                abandoned.append(e["abandoned_per_s"])
            for op in native:
                ratios = [u / n for u, n in zip(under[op], native[op])]
                row = {"server": server, "op": op, "native_ops_s": summary(native[op]),
                       "respct_ops_s": summary(under[op]), "ratio": summary(ratios),
                       "epochs_committed_per_s": summary(committed), "epochs_abandoned_per_s": summary(abandoned)}
                rows.append(row)
                headline.append(f"{server} {op} {row['ratio']['median']:.2f}")
            commands.append(gen)
    table = ["| server | load | native ops/s | respct ops/s | respct / native | epochs committed/s | abandoned/s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            table.append(f"| {r['server']} | skipped: {r['skipped']} | | | | | |")
            continue
        table.append(f"| {r['server']} | {r['op']} | {r['native_ops_s']['median']:.0f} | "
                     f"{r['respct_ops_s']['median']:.0f} | {spread(r['ratio'])} | "
                     f"{spread(r['epochs_committed_per_s'], 1)} | {spread(r['epochs_abandoned_per_s'], 1)} |")
    return {"name": "servers", "title": "memcached and redis throughput under respct (10 ms epochs, shm) / native",
            "goal": "", "goal_met": None,
            "command": ["memcaslap -T 2 -c 4 -F (90% get) / redis-benchmark -c 4 -t set,get", f"{seconds} s",
                        f"x{ctx.reps}"],
            "wall_s": round(time.monotonic() - t0, 1),
            "headline": "respct / native: " + ", ".join(headline) if headline else "skipped",
            "rows": rows, "table": "\n".join(table) + "\n\n" + __doc__.split("\n\n")[0].replace("\n", " ")}
