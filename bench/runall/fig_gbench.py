"""P2 and P3: the Google Benchmark micro-benchmarks (bench/locks,
bench/malloc), each respct case paired with its glibc case of the same
repetition in the same process."""
import json
import os
import re

from . import plots
from .context import run, spread, summary


def run_gbench(ctx, binary, tag):
    """Runs a Google Benchmark binary; returns (argv, wall, [iteration runs])."""
    out = os.path.join(ctx.scratch, tag + ".json")
    argv = [ctx.binary(binary), f"--benchmark_out={out}", "--benchmark_out_format=json",
            f"--benchmark_repetitions={2 if ctx.quick else ctx.reps}"]
    if ctx.quick:
        argv.append("--benchmark_min_time=0.01")
    _, wall = run(argv, timeout=1800)
    data = json.load(open(out))
    return argv, wall, [b for b in data["benchmarks"] if b.get("run_type") == "iteration"], data["context"]


def paired(runs, key_of, time_of):
    """{case: {'glibc': [t per repetition], 'respct': [...]}} from iteration runs."""
    cases = {}
    for b in runs:
        key = key_of(b["name"])
        if key is None:
            continue
        side, case = key
        cases.setdefault(case, {}).setdefault(side, {})[b.get("repetition_index", 0)] = time_of(b)
    return cases


def ratios(sides, numerator, denominator):
    reps = sorted(set(sides.get(numerator, {})) & set(sides.get(denominator, {})))
    return [sides[numerator][i] / sides[denominator][i] for i in reps]


# --- P2 --------------------------------------------------------------------

def locks(ctx):
    argv, wall, runs, context = run_gbench(ctx, "bench/locks/bench_locks", "locks")

    def key_of(name):
        m = re.match(r"(Glibc|Respct)_([A-Za-z0-9]+)", name)
        return (m.group(1).lower(), m.group(2)) if m else None

    # CPU time for the uncontended pairs (stabler on a shared machine), real
    # time for the contended ones (waiting is their cost), as bench_locks does.
    def time_of(b):
        return b["real_time"] if "real_time" in b["name"] else b["cpu_time"]

    cases = paired(runs, key_of, time_of)
    rows = []
    for case, sides in sorted(cases.items()):
        r = ratios(sides, "respct", "glibc")
        if r:
            rows.append({"case": case, "glibc_ns": summary(list(sides["glibc"].values())),
                         "respct_ns": summary(list(sides["respct"].values())), "ratio": summary(r)})
    mutex = next(r for r in rows if r["case"] == "Mutex")
    lines = ["| case | glibc ns | respct ns | respct/glibc median [min–max] |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['glibc_ns']['median']:.2f} | {r['respct_ns']['median']:.2f} | "
                     f"{spread(r['ratio'])} |")
    return {"name": "P2", "title": "Lock/unlock pair, respct / glibc", "goal": "<= 1.1x", "command": argv,
            "wall_s": round(wall, 1), "rows": rows, "goal_met": mutex["ratio"]["median"] <= 1.1,
            "headline": f"uncontended mutex pair {mutex['ratio']['median']:.2f}x glibc "
                        f"[{mutex['ratio']['min']:.2f}–{mutex['ratio']['max']:.2f}]",
            "table": "\n".join(lines), "plots": [], "raw": {"context": context}}


# --- P3 --------------------------------------------------------------------

def malloc(ctx):
    argv, wall, runs, context = run_gbench(ctx, "bench/malloc/bench_malloc", "malloc")

    # "glibc/pair/64/real_time/threads:2" -> ("glibc", "pair/64 2T"); time per
    # malloc+free of all threads together = 1 / items_per_second.
    def key_of(name):
        m = re.match(r"(glibc|respct)/(.+?)/real_time/threads:(\d+)", name)
        return (m.group(1), f"{m.group(2)} {m.group(3)}T") if m else None

    def time_of(b):
        return 1e9 / b["items_per_second"] if b.get("items_per_second") else b["real_time"]

    cases = paired(runs, key_of, time_of)
    rows = []
    for case, sides in sorted(cases.items(), key=lambda kv: (kv[0].split()[-1], kv[0])):
        r = ratios(sides, "glibc", "respct")
        if r:
            rows.append({"case": case, "glibc_ns": summary(list(sides["glibc"].values())),
                         "respct_ns": summary(list(sides["respct"].values())), "speedup": summary(r)})
    lines = ["| pattern, threads | glibc ns/op | respct ns/op | glibc/respct median [min–max] |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['glibc_ns']['median']:.1f} | {r['respct_ns']['median']:.1f} | "
                     f"{spread(r['speedup'])} |")
    small = [r for r in rows if r["case"].startswith("pair/16-512 ")]
    met = bool(small) and all(r["speedup"]["median"] >= 1.2 for r in small)
    headline = "; ".join(f"{r['case']}: {r['speedup']['median']:.2f}x "
                         f"[{r['speedup']['min']:.2f}–{r['speedup']['max']:.2f}]" for r in small)
    return {"name": "P3", "title": "Small malloc/free, glibc time / respct time (1 and 2 threads)",
            "goal": ">= 1.2x", "command": argv, "wall_s": round(wall, 1), "rows": rows, "goal_met": met,
            "headline": "malloc+free of 16–512 B " + headline, "table": "\n".join(lines),
            "plots": [plot_malloc(ctx, rows)], "raw": {"context": context}}


def plot_malloc(ctx, rows):
    fig, ax = plots.new("P3: small malloc/free, glibc time / respct time (median, min–max)", "",
                        "speed-up over glibc (> 1: respct faster)")
    names = [r["case"] for r in rows]
    med = [r["speedup"]["median"] for r in rows]
    err = [[m - r["speedup"]["min"] for m, r in zip(med, rows)], [r["speedup"]["max"] - m for m, r in zip(med, rows)]]
    ax.bar(range(len(rows)), med, yerr=err, capsize=3, color="tab:blue")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.axhline(1.2, color="grey", linestyle=":", label="goal 1.2")
    ax.legend(fontsize=8)
    return plots.save(fig, ctx, "p3_malloc")
