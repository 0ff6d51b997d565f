"""P1: throughput of each example under respct at 1, 10 and 100 ms epochs,
over shm and tcp, as native time / respct time of the same repetition
(bench/overhead: native and respct runs interleaved, order rotated)."""

from . import plots
from .context import reps_args, run_json_bench, spread, summary

NAME = "P1"
TITLE = "Throughput of the examples under respct / native"
GOAL = ">= 0.95"


def run_figure(ctx):
    argv, wall, data = run_json_bench(ctx, "bench/overhead/bench_overhead", reps_args(ctx))
    rows = []
    for ex in data["examples"]:
        for cfg in ex["configs"]:
            ratios = [r["throughput_ratio"] for r in cfg["runs"]]
            pauses = [r["pause_us"]["p50"] for r in cfg["runs"]]
            rows.append({"example": ex["name"], "transport": cfg["transport"], "epoch_ms": cfg["epoch_ms"],
                         "throughput_ratio": summary(ratios), "pause_p50_us": summary(pauses),
                         "paused_fraction": summary([r["paused_fraction"] for r in cfg["runs"]])})
    met = sum(1 for r in rows if r["throughput_ratio"]["median"] >= 0.95)
    headline = min(rows, key=lambda r: r["throughput_ratio"]["median"])
    fig = {
        "name": NAME, "title": TITLE, "goal": GOAL, "command": argv, "wall_s": round(wall, 1),
        "rows": rows, "goal_met": met == len(rows),
        "headline": f"{met} of {len(rows)} configurations reach 0.95; lowest: {headline['example']} "
                    f"{headline['transport']} {headline['epoch_ms']} ms at "
                    f"{headline['throughput_ratio']['median']:.2f}",
        "table": table(rows), "plots": [plot(ctx, rows)], "raw": data,
    }
    return fig


def table(rows):
    lines = ["| example | transport | epoch ms | throughput x median [min–max] | pause p50 µs | paused % |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['example']} | {r['transport']} | {r['epoch_ms']} | {spread(r['throughput_ratio'])} | "
                     f"{r['pause_p50_us']['median']:.0f} | "
                     f"{100 * r['paused_fraction']['median']:.1f} |")
    return "\n".join(lines)


def plot(ctx, rows):
    fig, ax = plots.new("P1: throughput under respct / native (median, min–max)", "epoch interval (ms)",
                        "throughput ratio (1 = native)")
    ax.set_xscale("log")
    for (example, transport) in sorted({(r["example"], r["transport"]) for r in rows}):
        pts = sorted((r["epoch_ms"], r["throughput_ratio"]) for r in rows
                     if r["example"] == example and r["transport"] == transport)
        xs = [p[0] for p in pts]
        med = [p[1]["median"] for p in pts]
        err = [[m - p[1]["min"] for m, p in zip(med, pts)], [p[1]["max"] - m for m, p in zip(med, pts)]]
        ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, linestyle="-" if transport == "shm" else "--",
                    label=f"{example} ({transport})")
    ax.axhline(0.95, color="grey", linestyle=":", label="goal 0.95")
    ax.legend(fontsize=8)
    return plots.save(fig, ctx, "p1_overhead")


def profile_argv(ctx, scratch_memnode):
    """A run that shows where the time goes: pipeline at 10 ms epochs over shm."""
    return [ctx.binary("bin/respct-run"), "--memnode", scratch_memnode.shm_url, "--secret-file",
            scratch_memnode.secret_file, "--app", "profile-p1", "--fresh", "--epoch-ms", "10", "--",
            ctx.binary("bin/pipeline")]
