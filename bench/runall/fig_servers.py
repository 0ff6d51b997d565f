"""servers: Debian's memcached and redis-server under respct (a memnode of
the harness's own over shm) against the same server
natively, driven by their own load generators: memcaslap with 4
connections, 90% get / 10% set (64-byte keys, 128-byte values), and
redis-benchmark with 4 connections (GET and SET, random keys). Under respct
each server runs with output commit (the default: every reply waits until
the epoch that produced it is committed; redis-benchmark then sends a tenth
of the requests, 20,000) at 10, 5 and 1 ms epochs, and with --output-commit
off at 10 ms. Latency: redis-benchmark's own p50/p99; for memcached the mean
by Little's law (4 connections / ops per second), as memcaslap prints no
percentiles. Each run under respct also reports, from the shim's --stats
JSON at exit, epochs committed and abandoned per second of the server's life
and, with output commit, the time replies were held (p50, p99).

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
        tps = float(m[-1])
        return {"90% get": {"ops_s": tps, "p50_ms": None, "p99_ms": None, "mean_ms": 4 / tps * 1000}}
    n = str((20000 if ctx.quick else 200000) // (10 if held else 1))
    proc, _ = run(["redis-benchmark", "-p", str(port), "-c", "4", "-n", n, "-r", "100000", "-t", "set,get", "--csv"],
                  timeout=600)
    out = {}
    for line in proc.stdout.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if len(f) >= 7 and f[0] in ("SET", "GET"):
            out[f[0]] = {"ops_s": float(f[1]), "mean_ms": float(f[2]), "p50_ms": float(f[4]), "p99_ms": float(f[6])}
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


# (label, under respct, output commit, epoch ms): the runs of each repetition.
CONFIGS = [("native", False, None, None), ("held 10 ms", True, "on", 10), ("held 5 ms", True, "on", 5),
           ("held 1 ms", True, "on", 1), ("unheld 10 ms", True, "off", 10)]


def one_run(ctx, server, respct, mn, rep, seconds, output_commit="on", epoch_ms=10):
    port = free_port()
    argv = server_argv(server, port)
    stats = os.path.join(ctx.scratch, f"servers-{server}-{rep}.json")
    if respct:
        argv = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
                "--app", f"bench-{server}", "--fresh", "--epoch-ms", str(epoch_ms), "--output-commit", output_commit,
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
            per = {c[0]: {} for c in CONFIGS}    # label -> op -> [result of each rep]
            epochs = {c[0]: [] for c in CONFIGS}  # label -> [epoch/held stats of each rep]
            for rep in range(ctx.reps):
                for label, respct, oc, ms in CONFIGS:
                    r, e = one_run(ctx, server, respct, mn, rep, seconds, oc or "on", ms or 10)
                    for op, v in r.items():
                        per[label].setdefault(op, []).append(v)
                    if e:
                        epochs[label].append(e)
            for op in per["native"]:
                native = [v["ops_s"] for v in per["native"][op]]
                row = {"server": server, "op": op, "native_ops_s": summary(native), "configs": {}}
                for label, respct, _, _ in CONFIGS:
                    runs = per[label][op]
                    cfg = {"ops_s": summary([v["ops_s"] for v in runs]),
                           "ratio": summary([v["ops_s"] / n for v, n in zip(runs, native)]),
                           "mean_ms": summary([v["mean_ms"] for v in runs]),
                           "p50_ms": summary([v["p50_ms"] for v in runs if v["p50_ms"] is not None]),
                           "p99_ms": summary([v["p99_ms"] for v in runs if v["p99_ms"] is not None])}
                    if respct:
                        e = epochs[label]
                        cfg["epochs_committed_per_s"] = summary([x["committed_per_s"] for x in e])
                        cfg["epochs_abandoned_per_s"] = summary([x["abandoned_per_s"] for x in e])
                        held = [x["held"] for x in e if x["held"]]
                        cfg["held_p50_ms"] = summary([h["held_p50_us"] / 1000 for h in held])
                        cfg["held_p99_ms"] = summary([h["held_p99_us"] / 1000 for h in held])
                    row["configs"][label] = cfg
                rows.append(row)
                c = row["configs"]
                headline.append(f"{server} {op} {c['held 10 ms']['ratio']['median']:.2f} "
                                f"(output commit off {c['unheld 10 ms']['ratio']['median']:.2f})")
            commands.append(gen)
        recovery, recovery_table = (run_recovery(ctx, mn) if os.path.exists("/usr/bin/memcached")
                                    else (None, ["memcached recovery: skipped (memcached not installed)"]))
    if recovery:
        headline.append(f"memcached {recovery['fill_bytes'] >> 20} MiB recovered in "
                        f"{recovery['recover_s']['median']:.2f} s "
                        f"({recovery['recover_over_refill']['median']:.2f} of a native start and refill)")
    labels = [c[0] for c in CONFIGS if c[1]]
    table = ["| server | load | native ops/s | " + " | ".join(f"{l}: respct / native" for l in labels) + " |",
             "|---|---|---|" + "---|" * len(labels)]
    latency = ["| server | load | " + " | ".join(f"{c[0]}: p50 / p99 (mean), ms" for c in CONFIGS) +
               " | reply held p50 / p99, ms (held 10 ms) | epochs committed/s (held 10 ms / unheld) |",
               "|---|---|" + "---|" * (len(CONFIGS) + 2)]

    def lat(cfg):
        if cfg["p50_ms"]["n"]:
            return f"{cfg['p50_ms']['median']:.3f} / {cfg['p99_ms']['median']:.3f}"
        return f"({cfg['mean_ms']['median']:.3f})"

    for r in rows:
        if "skipped" in r:
            table.append(f"| {r['server']} | skipped: {r['skipped']} |" + " |" * (len(labels) + 1))
            continue
        c = r["configs"]
        table.append(f"| {r['server']} | {r['op']} | {r['native_ops_s']['median']:.0f} | " +
                     " | ".join(spread(c[l]["ratio"]) for l in labels) + " |")
        h = c["held 10 ms"]
        held = f"{h['held_p50_ms']['median']:.2f} / {h['held_p99_ms']['median']:.2f}" if h["held_p50_ms"]["n"] else "-"
        latency.append(f"| {r['server']} | {r['op']} | " + " | ".join(lat(c[x[0]]) for x in CONFIGS) +
                       f" | {held} | {spread(h['epochs_committed_per_s'], 0)} / "
                       f"{spread(c['unheld 10 ms']['epochs_committed_per_s'], 0)} |")
    table += [""] + latency
    return {"name": "servers", "title": "memcached and redis throughput and latency under respct (shm) / native",
            "goal": "", "goal_met": None,
            "command": ["memcaslap -T 2 -c 4 -F (90% get) / redis-benchmark -c 4 -t set,get", f"{seconds} s",
                        "output commit on at 10, 5, 1 ms and off at 10 ms", f"x{ctx.reps}"],
            "wall_s": round(time.monotonic() - t0, 1),
            "headline": "respct / native: " + ", ".join(headline) if headline else "skipped",
            "rows": rows, "recovery": recovery,
            "table": "\n".join(table) + "\n\n" + __doc__.split("\n\n")[0].replace("\n", " ") + "\n\n" +
                     "\n".join(recovery_table) + "\n\n" + __doc__.split("\n\n")[1].replace("\n", " ")}
