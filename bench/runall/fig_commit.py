"""P6: commit bandwidth of each transport / raw bandwidth of the same
medium measured next to it (bench/commit_bw): memcpy for shm, a plain
loopback TCP stream for tcp; rdma inside the QEMU guest tier on request."""
import json
import os
import shutil
import subprocess
import tempfile

from . import plots
from .context import CommandFailed, run, spread, summary


def run_bench(ctx, prefix, transport, tag, runs, seconds, out_dir=None):
    results, argv, wall_total = [], None, 0.0
    for i in range(runs):
        out = os.path.join(out_dir or ctx.scratch, f"{tag}{i}.json")
        argv = prefix + [ctx.binary("bench/commit_bw/bench_commit_bw"), "--transport", transport,
                         "--seconds", str(seconds), "--json", out]
        _, wall = run(argv, timeout=3600)
        wall_total += wall
        results.append(json.load(open(out)))
    return argv, wall_total, results


def rows_of(results):
    rows = []
    for j, first in enumerate(results[0]["rows"]):
        same = [r["rows"][j] for r in results]
        rows.append({"transport": first["transport"], "record_bytes": first["record_bytes"],
                     "commit_mbs": summary([r["commit_bytes_per_s"] / 1e6 for r in same]),
                     "baseline_mbs": summary([r["baseline_bytes_per_s"] / 1e6 for r in same]),
                     "ratio": summary([r["commit_bytes_per_s"] / r["baseline_bytes_per_s"] for r in same]),
                     "latency_p50_us": summary([r["latency_p50_us"] for r in same])})
    return rows


def rdma(ctx):
    """Runs the rdma rows inside the guest tier, or says why not."""
    script = os.path.join(ctx.repo, "tools/vm/run-in-guest.sh")
    if not os.path.exists(script):
        return None, "not run: tools/vm/run-in-guest.sh is not in this tree"
    help_text = subprocess.run([ctx.binary("bench/commit_bw/bench_commit_bw"), "--help"], capture_output=True,
                               text=True).stdout
    if "rdma" not in help_text:
        return None, "not run: bench_commit_bw has no rdma transport in this build"
    # The guest sees the host's / over 9p but has its own /dev/shm: the
    # results go to a directory of the build tree.
    out_dir = tempfile.mkdtemp(prefix="run-all-rdma-", dir=ctx.build)
    try:
        _, _, results = run_bench(ctx, [script, "--timeout", "3000", "--"], "rdma", "commit_rdma", 1,
                                  0.2 if ctx.quick else 2, out_dir)
    except CommandFailed as e:
        return None, f"not run: {e}"
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return rows_of(results), "run in the QEMU guest tier (TCG, Soft-RoCE): compare only within its rows"


def run_figure(ctx):
    runs = 1 if ctx.quick else ctx.reps
    argv, wall, results = run_bench(ctx, [], "all", "commit", runs, 0.2 if ctx.quick else 1)
    rows = rows_of(results)
    rdma_note = "not run: --with-rdma not given"
    if ctx.with_rdma:
        rdma_rows, rdma_note = rdma(ctx)
        rows += rdma_rows or []
    big = [r for r in rows if r["record_bytes"] == 65536 and r["transport"] in ("shm", "tcp")]
    lines = [f"{runs} run(s); 1 MiB epochs; ratio = commit MB/s / raw MB/s of the same row. rdma: {rdma_note}.", "",
             "| transport | record | commit MB/s | raw MB/s | ratio median [min–max] | commit p50 µs |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['transport']} | {r['record_bytes']} B | {r['commit_mbs']['median']:.0f} | "
                     f"{r['baseline_mbs']['median']:.0f} | {spread(r['ratio'], 3)} | "
                     f"{r['latency_p50_us']['median']:.0f} |")
    return {"name": "P6", "title": "Commit bandwidth / raw transport bandwidth", "goal": ">= 0.8",
            "command": argv, "wall_s": round(wall, 1), "rows": rows, "rdma": rdma_note,
            "goal_met": bool(big) and all(r["ratio"]["median"] >= 0.8 for r in big),
            "headline": "64 KiB records: " + "; ".join(
                f"{r['transport']} {spread(r['ratio'])}"
                for r in big),
            "table": "\n".join(lines), "plots": [plot(ctx, rows)], "raw": results}


def plot(ctx, rows):
    fig, ax = plots.new("P6: commit bandwidth / raw bandwidth (median, min–max)", "record size (bytes)",
                        "ratio")
    ax.set_xscale("log")
    for transport in sorted({r["transport"] for r in rows}):
        pts = [r for r in rows if r["transport"] == transport]
        med = [r["ratio"]["median"] for r in pts]
        err = [[m - r["ratio"]["min"] for m, r in zip(med, pts)], [r["ratio"]["max"] - m for m, r in zip(med, pts)]]
        ax.errorbar([r["record_bytes"] for r in pts], med, yerr=err, marker="o", capsize=3, label=transport)
    ax.axhline(0.8, color="grey", linestyle=":", label="goal 0.8")
    ax.legend(fontsize=8)
    return plots.save(fig, ctx, "p6_commit")
