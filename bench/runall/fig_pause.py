"""P5: the checkpoint pause per epoch against memcpy of the bytes it
shipped (bench/pause: memcpy timed right after each run), goal
pause <= 2 × memcpy + 50 µs."""

from . import plots
from .context import run_json_bench, spread, summary

GOAL_SLACK_NS = 50_000


def run_figure(ctx):
    # A smaller buffer than bench_pause's 256 MiB: on this loaded machine its
    # set-up epoch (pause + commit of the whole buffer) outlasted the runs and
    # left no steady-state epoch. Sizes stay below half the buffer, or a
    # sparse epoch that catches up two intervals looks like the set-up one.
    if ctx.quick:
        args = ["--sizes", "64K,1M", "--patterns", "dense", "--mib", "32", "--seconds", "2", "--min-epochs", "4"]
    else:
        args = ["--sizes", "64K,256K,1M,4M,16M", "--patterns", "dense,sparse", "--mib", "128", "--seconds", "3"]
    argv, wall, data = run_json_bench(ctx, "bench/pause/bench_pause", args)
    rows = []
    for r in data["rows"]:
        eps = r["epochs"]
        goal_x = [e["pause_ns"] / (2 * e["memcpy_ns"] + GOAL_SLACK_NS) for e in eps if e["memcpy_ns"] > 0]
        rows.append({"pattern": r["pattern"], "target_bytes": r["target_bytes"], "epoch_ms": r["epoch_ms"],
                     "epochs": len(eps), "shipped_bytes": summary([e["bytes_shipped"] for e in eps]),
                     "pause_us": summary([e["pause_ns"] / 1e3 for e in eps]),
                     "memcpy_us": summary([e["memcpy_ns"] / 1e3 for e in eps]), "goal_ratio": summary(goal_x),
                     "epochs_meeting_goal": sum(1 for g in goal_x if g <= 1)})
    met_rows = [r for r in rows if r["goal_ratio"]["median"] is not None and r["goal_ratio"]["median"] <= 1]
    lines = ["Per row: every steady-state epoch of one run (median [min–max] over its epochs).", "",
             "| pattern | bytes/epoch | epochs | pause µs | memcpy µs | pause / (2·memcpy + 50 µs) | epochs meeting goal |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        g = r["goal_ratio"]
        lines.append(f"| {r['pattern']} | {size_name(r['target_bytes'])} | {r['epochs']} | "
                     f"{r['pause_us']['median']:.0f} | {r['memcpy_us']['median']:.0f} | "
                     f"{spread(g)} | {r['epochs_meeting_goal']}/{r['epochs']} |")
    return {"name": "P5", "title": "Checkpoint pause vs dirty bytes, against memcpy", "goal": "<= 2 × memcpy + 50 µs",
            "command": argv, "wall_s": round(wall, 1), "rows": rows, "goal_met": len(met_rows) == len(rows),
            "headline": f"{len(met_rows)} of {len(rows)} rows meet the goal at their median epoch",
            "table": "\n".join(lines), "plots": [plot(ctx, data)], "raw": data}


def size_name(n):
    return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"


def plot(ctx, data):
    fig, ax = plots.new("P5: pause per epoch vs bytes shipped", "bytes shipped in the epoch", "µs")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for pattern, marker in (("dense", "o"), ("sparse", "^")):
        eps = [e for r in data["rows"] if r["pattern"] == pattern for e in r["epochs"]]
        if eps:
            ax.scatter([e["bytes_shipped"] for e in eps], [e["pause_ns"] / 1e3 for e in eps], s=8, marker=marker,
                       alpha=0.5, label=f"pause, {pattern}")
    eps = sorted((e for r in data["rows"] for e in r["epochs"]), key=lambda e: e["bytes_shipped"])
    if eps:
        ax.plot([e["bytes_shipped"] for e in eps], [(2 * e["memcpy_ns"] + GOAL_SLACK_NS) / 1e3 for e in eps],
                color="grey", linestyle=":", label="goal: 2 × memcpy + 50 µs")
        ax.plot([e["bytes_shipped"] for e in eps], [e["memcpy_ns"] / 1e3 for e in eps], color="black",
                linewidth=0.8, label="memcpy of the shipped bytes")
    ax.legend(fontsize=8)
    return plots.save(fig, ctx, "p5_pause")
