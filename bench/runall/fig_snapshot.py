"""P8: full-process checkpoints against a respct epoch, on one program
(bench/snapshot/snapshot_heap: a heap buffer, 1 GiB in the full run, with
1 % of its pages rewritten every 1 s interval):
  - criu dump --leave-running (where CRIU works on this kernel; else the
    failure text of `criu check` and of the dump attempt),
  - gcore (gdb) dump of the whole process,
  - a fork-based snapshot writer, as Redis BGSAVE: fork, the child writes
    the heap to a file and fsyncs it,
  - respct with --granularity full (every tracked page each epoch) and with
    the default line granularity.
Two times per method: how long the application is stopped, and how long
until the checkpoint is complete (durable). All in the same run."""
import json
import os
import shutil
import subprocess
import time

from . import plots
from .context import log, run, spread, summary
from .memnode import Memnode

# One interval per second: 1 % of a 1 GiB heap every 100 ms (100 MB/s of
# dirty pages) was more than shipping sustains on this loaded 2-core machine,
# so epochs fell behind and grew (the first full run, 2026-11-28 09:44).
INTERVAL_MS = 1000
DIRTY_PCT = 1


def program(ctx, heap_mib, seconds, extra=()):
    return [ctx.binary("bench/snapshot/snapshot_heap"), "--heap-mib", str(heap_mib), "--dirty-pct", str(DIRTY_PCT),
            "--interval-ms", str(INTERVAL_MS), "--seconds", str(seconds), *extra]


def ready_unix_ns(stdout):
    for line in stdout.splitlines():
        if "ready" in line and "unix_ns=" in line:
            return int(line.rsplit("unix_ns=", 1)[1].split()[0])
    raise RuntimeError("snapshot_heap printed no ready line")


def result_line(stdout):
    for line in stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("snapshot_heap printed no result line")


def fork_snapshots(ctx, heap_mib, seconds):
    target = os.path.join(ctx.scratch, "bgsave.bin")
    proc, _ = run(program(ctx, heap_mib, seconds, ["--fork-snapshot", target]), timeout=600)
    res = result_line(proc.stdout)
    os.unlink(target)
    return {"method": "fork snapshot (BGSAVE-like)", "stop_ms": summary([u / 1e3 for u in res["fork_us"]]),
            "complete_ms": summary(res["snapshot_ms"]), "note": f"{len(res['snapshot_ms'])} snapshots"}


def respct_epochs(ctx, mn, granularity, heap_mib, seconds):
    stats = os.path.join(ctx.scratch, f"p8-{granularity}.json")
    argv = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
            "--app", f"p8-{granularity}", "--fresh", "--epoch-ms", str(INTERVAL_MS),
            "--heap-size", f"{max(2, 2 * heap_mib // 1024)}G", "--ring-size", f"{heap_mib * 3 // 2 + 256}M",
            "--granularity", granularity, "--stats=json", "--stats-file", stats, "--"]
    proc, _ = run(argv + program(ctx, heap_mib, seconds), timeout=900)
    data = json.load(open(stats))
    # Steady state: epochs captured after the buffer was filled, less the
    # first of them (it may still carry the end of the fill) and the exit
    # checkpoint (a partial interval).
    ready = ready_unix_ns(proc.stdout)
    steady = [e for e in data["timeline"][:-1] if e["t_ns"] >= ready][1:]
    if not steady:
        raise RuntimeError(f"respct {granularity}: no steady-state epoch in {len(data['timeline'])}")
    return {"method": f"respct epoch, {granularity} granularity",
            "stop_ms": summary([e["pause_ns"] / 1e6 for e in steady]),
            "complete_ms": summary([(e["pause_ns"] + e["ship_ns"] + e["commit_ns"]) / 1e6 for e in steady]),
            "shipped_mib": summary([e["bytes_shipped"] / 2**20 for e in steady]),
            "note": f"{len(steady)} steady-state epochs, shm, {data['tracker']} tracker, "
                    f"{data['epochs_abandoned']} abandoned"}


def tail(text, n=3):
    return " / ".join(line.strip() for line in text.strip().splitlines()[-n:])


def external_dumps(ctx, heap_mib, reps):
    """gcore and criu against the program running natively."""
    methods, criu_text = [], ""
    proc = subprocess.Popen(program(ctx, heap_mib, 3600), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("snapshot_heap did not get ready: " + line)
        time.sleep(0.5)
        gcore = shutil.which("gcore")
        if gcore:
            times = []
            for i in range(reps):
                core = os.path.join(ctx.scratch, "core")
                _, wall = run([gcore, "-o", core, str(proc.pid)], timeout=900)
                for name in os.listdir(ctx.scratch):
                    if name.startswith("core."):
                        os.unlink(os.path.join(ctx.scratch, name))
                times.append(wall * 1e3)
            # gdb stops every thread for the whole dump: stopped = complete.
            methods.append({"method": "gcore (gdb) full dump", "stop_ms": summary(times),
                            "complete_ms": summary(times), "note": "the process is stopped for the whole dump"})
        else:
            methods.append({"method": "gcore (gdb) full dump", "not_run": "gcore not installed (gdb package)"})
        criu = shutil.which("criu") or ("/usr/sbin/criu" if os.path.exists("/usr/sbin/criu") else None)
        if criu:
            check = subprocess.run([criu, "check"], capture_output=True, text=True)
            criu_text = f"`criu check` exit {check.returncode}: {tail(check.stdout + check.stderr)}"
            dump_dir = os.path.join(ctx.scratch, "criu")
            os.makedirs(dump_dir, exist_ok=True)
            dump, wall = run([criu, "dump", "-t", str(proc.pid), "-D", dump_dir, "--leave-running", "--shell-job",
                              "-o", "dump.log"], timeout=900, check=False)
            if dump.returncode == 0:
                methods.append({"method": "criu dump --leave-running", "stop_ms": summary([wall * 1e3]),
                                "complete_ms": summary([wall * 1e3]), "note": "one dump"})
            else:
                try:
                    with open(os.path.join(dump_dir, "dump.log")) as f:
                        why = tail(f.read())
                except OSError:
                    why = tail(dump.stdout + dump.stderr)
                methods.append({"method": "criu dump --leave-running",
                                "not_run": f"criu dump failed (exit {dump.returncode}): {why}"})
            shutil.rmtree(dump_dir, ignore_errors=True)
        else:
            methods.append({"method": "criu dump --leave-running", "not_run": "criu not installed"})
    finally:
        proc.kill()
        proc.wait()
    return methods, criu_text


def run_figure(ctx):
    heap_mib, seconds, reps = (64, 4, 1) if ctx.quick else (1024, 20, ctx.reps)
    t0 = time.monotonic()
    methods, criu_text = external_dumps(ctx, heap_mib, reps)
    methods.append(fork_snapshots(ctx, heap_mib, seconds))
    with Memnode(ctx, ring_size="256M", pool_size=f"{max(16, 4 * heap_mib // 1024 + 8)}G") as mn:
        full = respct_epochs(ctx, mn, "full", heap_mib, seconds)
        line = respct_epochs(ctx, mn, "line", heap_mib, seconds)
    methods += [full, line]
    log(f"P8 done in {time.monotonic() - t0:.0f} s")
    for m in methods:
        if "stop_ms" in m:
            m["stop_x_line"] = m["stop_ms"]["median"] / line["stop_ms"]["median"]
            m["complete_x_line"] = m["complete_ms"]["median"] / line["complete_ms"]["median"]
    measured = [m for m in methods if "stop_ms" in m and m is not line and m is not full]
    best = min(measured, key=lambda m: m["complete_x_line"]) if measured else None
    lines = [f"{heap_mib} MiB heap buffer, {DIRTY_PCT} % of its pages rewritten every {INTERVAL_MS} ms. "
             f"CRIU: {criu_text or 'not installed'}.", "",
             "| method | app stopped ms median [min–max] | until complete ms median [min–max] | "
             "stopped / respct line | complete / respct line | |", "|---|---|---|---|---|---|"]
    for m in methods:
        if "not_run" in m:
            lines.append(f"| {m['method']} | not run | | | | {m['not_run']} |")
            continue
        s, c = m["stop_ms"], m["complete_ms"]
        lines.append(f"| {m['method']} | {spread(s)} | "
                     f"{spread(c, 1)} | {m['stop_x_line']:.1f}x | "
                     f"{m['complete_x_line']:.1f}x | {m.get('note', '')} |")
    headline = (f"the cheapest full-process baseline ({best['method']}) takes {best['complete_x_line']:.0f}x "
                f"a respct line epoch until complete and stops the app {best['stop_x_line']:.1f}x as long; "
                f"respct full-image epochs take {full['complete_x_line']:.0f}x") if best else "no baseline ran"
    return {"name": "P8", "title": "Full-process checkpoint baselines / a respct epoch", "goal": ">= 50x",
            "command": program(ctx, heap_mib, seconds), "wall_s": round(time.monotonic() - t0, 1),
            "rows": methods, "criu": criu_text,
            "goal_met": best is not None and best["complete_x_line"] >= 50 and best["stop_x_line"] >= 50,
            "headline": headline, "table": "\n".join(lines), "plots": [plot(ctx, methods)]}


def plot(ctx, methods):
    done = [m for m in methods if "stop_ms" in m]
    fig, ax = plots.new("P8: one checkpoint of the same program (median)", "", "ms (log scale)")
    ax.set_yscale("log")
    xs = range(len(done))
    ax.bar([x - 0.2 for x in xs], [m["stop_ms"]["median"] for m in done], width=0.4, label="application stopped")
    ax.bar([x + 0.2 for x in xs], [m["complete_ms"]["median"] for m in done], width=0.4,
           label="until the checkpoint is complete")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([m["method"] for m in done], rotation=20, ha="right", fontsize=7)
    ax.legend(fontsize=8)
    return plots.save(fig, ctx, "p8_snapshot")
