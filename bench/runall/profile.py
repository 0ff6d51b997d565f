"""For a figure far from its goal: `perf record -g` of a short run of the
same kind (children included), and the top of `perf report`, so the report
shows where the time goes."""
import os
import shutil
import subprocess

from .context import log
from .memnode import Memnode


def command(ctx, name, mn):
    """The profiled command for figure `name`, or None."""
    b = ctx.binary
    run = [b("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file, "--fresh"]
    return {
        "P1": run + ["--app", "profile-p1", "--epoch-ms", "10", "--", b("bin/pipeline")],
        "P2": [b("bench/locks/bench_locks"), "--benchmark_filter=Respct_Mutex$"],
        "P3": [b("bench/malloc/bench_malloc"), "--benchmark_filter=respct/pair/16-512"],
        "P5": [b("bench/pause/bench_pause"), "--sizes", "64K,1M", "--patterns", "dense,sparse", "--mib", "128",
               "--seconds", "3"],
        "P6": [b("bench/commit_bw/bench_commit_bw"), "--transport", "all", "--seconds", "1"],
        "P7": [b("bench/recovery/bench_recovery"), "--sizes", "256M", "--reps", "2"],
        # xz, the row furthest from its goal when this figure was added.
        "real": run + ["--app", "profile-real", "--epoch-ms", "10", "--", "xz", "-T2", "-1", "-k", "-f", "-S",
                       ".profile.xz", os.path.join(ctx.scratch, "real-text")],
        "P8": run + ["--app", "profile-p8", "--epoch-ms", "1000", "--heap-size", "2G", "--", b("bench/snapshot/snapshot_heap"),
                     "--interval-ms", "1000", "--seconds", "5"],
    }.get(name)


def profile(ctx, name):
    """Returns {'command': [...], 'report': text} or {'not_run': why}."""
    perf = shutil.which("perf")
    if perf is None:
        return {"not_run": "perf not installed (linux-perf)"}
    data = os.path.join(ctx.scratch, f"perf-{name}.data")
    with Memnode(ctx, ring_size="1G") as mn:
        argv = command(ctx, name, mn)
        if argv is None:
            return {"not_run": "no profile for this figure (its numbers are byte counts)"}
        log(f"profiling {name}: perf record -g -- {' '.join(argv)}")
        rec = subprocess.run([perf, "record", "-g", "-q", "-o", data, "--"] + argv, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=900)
    if rec.returncode != 0 or not os.path.exists(data):
        return {"command": argv, "not_run": "perf record failed: " + (rec.stderr.strip().splitlines() or ["?"])[-1]}
    rep = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children", "--sort", "comm,dso,sym",
                          "--percent-limit", "2", "-g", "none"], capture_output=True, text=True, timeout=600)
    os.unlink(data)
    lines = [line for line in rep.stdout.splitlines() if line.strip() and not line.startswith("#")]
    return {"command": ["perf", "record", "-g", "--"] + argv, "report": "\n".join(lines[:30])}
