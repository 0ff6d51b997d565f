"""servers: Debian's memcached and redis-server under respct (10 ms epochs,
a memnode of the harness's own over shm) against the same server
natively, driven by their own load generators: memcaslap with 4
connections, 90% get / 10% set (64-byte keys, 128-byte values), and
redis-benchmark with 4 connections (GET and SET, random keys). Under respct
each server runs twice: with output commit (the default: every reply waits
until the epoch that produced it is committed; redis-benchmark then sends a
tenth of the requests, 20,000) and with --output-commit off.
Each run with output commit also reports, from the shim's --stats JSON at
exit, epochs committed and abandoned per second of the server's life and the
time replies were held (p50, p99).

Recovery: memcached (4 threads, -m 1400) under respct is filled with 1 GiB of
items (1,000-byte values, noreply sets over one connection; 64 MiB with
--quick), left until its last set is in a committed epoch, killed with
kill -9, and resumed with respct-recover; the time from starting
respct-recover until the port accepts and a get of the last key set returns
its value is set against a cold start of native memcached (start until the
port accepts; its cache is empty) and against a native start followed by
refilling the same items (what a restart without respct costs to get the
cache back, with the data at hand in the client). A sample of 1,000 keys is checked after the
recovery."""
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


def load(ctx, server, port, seconds, held):
    """Runs the load generator; returns {op: ops/s}. `held`: replies wait for
    commits (about 20x slower), so redis-benchmark sends a tenth of the
    requests to stay near the same duration."""
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
    n = str((20000 if ctx.quick else 200000) // (10 if held else 1))
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


def stop(proc):
    """SIGTERM; returns what it wrote to stderr. A server still there after
    60 s is killed and the run fails."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=60)[1] or ""
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise CommandFailed(f"{proc.args[0]} did not stop on SIGTERM")


def one_run(ctx, server, respct, mn, rep, seconds, output_commit="on"):
    port = free_port()
    argv = server_argv(server, port)
    stats = os.path.join(ctx.scratch, f"servers-{server}-{rep}.json")
    if respct:
        argv = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
                "--app", f"bench-{server}", "--fresh", "--epoch-ms", "10", "--output-commit", output_commit,
                "--stats=json", "--stats-file", stats, "--"] + argv
    log("$ " + " ".join(argv))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_listening(port, proc)
        rates = load(ctx, server, port, seconds, respct and output_commit == "on")
    finally:
        stop(proc)
    life = time.monotonic() - t0
    epochs = None
    if respct:
        data = json.load(open(stats))
        epochs = {"committed_per_s": data["epochs_committed"] / life, "abandoned_per_s": data["epochs_abandoned"] / life,
                  "tracker": data.get("tracker"), "held": data.get("output_commit")}
    return rates, epochs


VALUE_BYTES = 1000


def mc_connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock, sock.makefile("rb")


def mc_get(sock, reader, key):
    sock.sendall(b"get " + key + b"\r\n")
    line = reader.readline()
    if line == b"END\r\n":
        return None
    if not line.startswith(b"VALUE "):
        raise CommandFailed(f"memcached answered {line[:80]!r} to a get")
    value = reader.read(int(line.split()[3]) + 2)[:-2]
    if reader.readline() != b"END\r\n":
        raise CommandFailed("memcached's get answer did not end with END")
    return value


def mc_fill(port, items):
    """Sets key:0 .. key:items-1 (noreply, pipelined), then one acknowledged
    set as a barrier: every set before it has been applied."""
    sock, reader = mc_connect(port)
    value = b"v" * VALUE_BYTES
    batch = []
    for i in range(items):
        batch.append(b"set key:%d 0 0 %d noreply\r\n%s\r\n" % (i, VALUE_BYTES, value))
        if len(batch) == 512:
            sock.sendall(b"".join(batch))
            batch = []
    sock.sendall(b"".join(batch) + b"set fill:done 0 0 1\r\n1\r\n")
    if reader.readline() != b"STORED\r\n":
        raise CommandFailed("memcached did not store the fill's barrier key")
    sock.close()


def committed_epoch(ctx, mn, app):
    proc, _ = run([ctx.binary("bin/respct-inspect"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
                   "--app", app, "--epochs", "--last", "1", "--json"], timeout=60)
    return json.loads(proc.stdout)["committed_epoch"]


def wait_answers(port, proc, key, timeout):
    """Seconds until the port accepts and `get key` returns a value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandFailed(f"{proc.args[0]} ended (exit {proc.returncode}) before answering")
        try:
            sock, reader = mc_connect(port)
            try:
                if mc_get(sock, reader, key) is not None:
                    return
            finally:
                sock.close()
        except OSError:
            pass
        time.sleep(0.005)
    raise CommandFailed(f"memcached on port {port} did not answer within {timeout} s")


def recovery_run(ctx, mn, rep, fill_bytes):
    """One memcached recovery against one native cold start; returns a dict."""
    items = fill_bytes // VALUE_BYTES
    port = free_port()
    server = ["/usr/bin/memcached", "-u", "root", "-p", str(port), "-U", "0", "-l", "127.0.0.1", "-t", "4",
              "-m", "1400"]
    t0 = time.monotonic()
    native = subprocess.Popen(server, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, native)
        cold_s = time.monotonic() - t0
        mc_fill(port, items)
        refill_s = time.monotonic() - t0
    finally:
        stop(native)

    app = f"bench-recovery-{rep}"
    respct = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file, "--app", app,
              "--fresh", "--epoch-ms", "10", "--heap-size", "2G", "--"] + server
    log("$ " + " ".join(respct))
    proc = subprocess.Popen(respct, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_listening(port, proc)
        t_fill = time.monotonic()
        mc_fill(port, items)
        fill_s = time.monotonic() - t_fill
        # The barrier's epoch is committed once two more epochs committed
        # after it was acknowledged.
        first = committed_epoch(ctx, mn, app)
        deadline = time.monotonic() + 120
        while committed_epoch(ctx, mn, app) < first + 2:
            if time.monotonic() > deadline:
                raise CommandFailed("memcached under respct committed no epoch after its fill in 120 s")
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.communicate()
    recover = [ctx.binary("bin/respct-recover"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
               "--app", app, "--"] + server
    log("$ " + " ".join(recover))
    t0 = time.monotonic()
    rec = subprocess.Popen(recover, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    try:
        wait_answers(port, rec, b"fill:done", 300)
        recover_s = time.monotonic() - t0
        sock, reader = mc_connect(port)
        sample = range(0, items, max(1, items // 1000))
        present = sum(1 for i in sample if mc_get(sock, reader, b"key:%d" % i) == b"v" * VALUE_BYTES)
        sock.close()
    finally:
        err = stop(rec)
    m = re.search(r"([0-9.]+) MiB read in ([0-9.]+) s", err)
    return {"fill_bytes": items * VALUE_BYTES, "fill_s": fill_s, "cold_start_s": cold_s, "native_refill_s": refill_s,
            "recover_s": recover_s,
            "image_mib": float(m.group(1)) if m else None, "fetch_s": float(m.group(2)) if m else None,
            "sampled": len(sample), "present": present}


def run_recovery(ctx, mn):
    fill = (64 << 20) if ctx.quick else (1 << 30)
    runs = [recovery_run(ctx, mn, rep, fill) for rep in range(ctx.reps)]
    row = {"fill_bytes": runs[0]["fill_bytes"], "recover_s": summary([r["recover_s"] for r in runs]),
           "cold_start_s": summary([r["cold_start_s"] for r in runs]),
           "recover_over_cold": summary([r["recover_s"] / r["cold_start_s"] for r in runs]),
           "native_refill_s": summary([r["native_refill_s"] for r in runs]),
           "recover_over_refill": summary([r["recover_s"] / r["native_refill_s"] for r in runs]),
           "fetch_s": summary([r["fetch_s"] for r in runs if r["fetch_s"] is not None]),
           "present": min(r["present"] for r in runs), "sampled": runs[0]["sampled"], "runs": runs}
    table = ["| items | respct-recover until it answers, s | image fetch, s | native cold start (empty), s | "
             "ratio | native start + refill, s | ratio | sampled keys present |",
             "|---|---|---|---|---|---|---|---|",
             f"| {row['fill_bytes'] >> 20} MiB | {spread(row['recover_s'], 3)} | "
             f"{spread(row['fetch_s'], 3) if row['fetch_s']['n'] else '-'} | {spread(row['cold_start_s'], 3)} | "
             f"{spread(row['recover_over_cold'], 1)} | {spread(row['native_refill_s'], 3)} | "
             f"{spread(row['recover_over_refill'])} | {row['present']} / {row['sampled']} |"]
    return row, table


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
            native, under, unheld, committed, abandoned, p50, p99 = {}, {}, {}, [], [], [], []
            for rep in range(ctx.reps):
                r, _ = one_run(ctx, server, False, mn, rep, seconds)
                for k, v in r.items():
                    native.setdefault(k, []).append(v)
                r, e = one_run(ctx, server, True, mn, rep, seconds)
                for k, v in r.items():
                    under.setdefault(k, []).append(v)
                committed.append(e["committed_per_s"])
                abandoned.append(e["abandoned_per_s"])
                if e["held"]:
                    p50.append(e["held"]["held_p50_us"] / 1000)
                    p99.append(e["held"]["held_p99_us"] / 1000)
                r, _ = one_run(ctx, server, True, mn, rep, seconds, output_commit="off")
                for k, v in r.items():
                    unheld.setdefault(k, []).append(v)
            for op in native:
                ratios = [u / n for u, n in zip(under[op], native[op])]
                ratios_off = [u / n for u, n in zip(unheld[op], native[op])]
                row = {"server": server, "op": op, "native_ops_s": summary(native[op]),
                       "respct_ops_s": summary(under[op]), "ratio": summary(ratios),
                       "respct_off_ops_s": summary(unheld[op]), "ratio_output_commit_off": summary(ratios_off),
                       "held_p50_ms": summary(p50), "held_p99_ms": summary(p99),
                       "epochs_committed_per_s": summary(committed), "epochs_abandoned_per_s": summary(abandoned)}
                rows.append(row)
                headline.append(f"{server} {op} {row['ratio']['median']:.2f} "
                                f"(output commit off {row['ratio_output_commit_off']['median']:.2f})")
            commands.append(gen)
        recovery, recovery_table = (run_recovery(ctx, mn) if os.path.exists("/usr/bin/memcached")
                                    else (None, ["memcached recovery: skipped (memcached not installed)"]))
    if recovery:
        headline.append(f"memcached {recovery['fill_bytes'] >> 20} MiB recovered in "
                        f"{recovery['recover_s']['median']:.2f} s "
                        f"({recovery['recover_over_refill']['median']:.2f} of a native start and refill)")
    table = ["| server | load | native ops/s | respct ops/s | respct / native | reply held p50 / p99, ms | "
             "output commit off: respct / native | epochs committed/s | abandoned/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            table.append(f"| {r['server']} | skipped: {r['skipped']} | | | | | | | |")
            continue
        held = (f"{r['held_p50_ms']['median']:.2f} / {r['held_p99_ms']['median']:.2f}" if r['held_p50_ms']['n']
                else "-")
        table.append(f"| {r['server']} | {r['op']} | {r['native_ops_s']['median']:.0f} | "
                     f"{r['respct_ops_s']['median']:.0f} | {spread(r['ratio'])} | {held} | "
                     f"{spread(r['ratio_output_commit_off'])} | "
                     f"{spread(r['epochs_committed_per_s'], 1)} | {spread(r['epochs_abandoned_per_s'], 1)} |")
    return {"name": "servers", "title": "memcached and redis throughput under respct (10 ms epochs, shm) / native",
            "goal": "", "goal_met": None,
            "command": ["memcaslap -T 2 -c 4 -F (90% get) / redis-benchmark -c 4 -t set,get", f"{seconds} s",
                        f"x{ctx.reps}"],
            "wall_s": round(time.monotonic() - t0, 1),
            "headline": "respct / native: " + ", ".join(headline) if headline else "skipped",
            "rows": rows, "recovery": recovery,
            "table": "\n".join(table) + "\n\n" + __doc__.split("\n\n")[0].replace("\n", " ") + "\n\n" +
                     "\n".join(recovery_table) + "\n\n" + __doc__.split("\n\n")[1].replace("\n", " ")}
