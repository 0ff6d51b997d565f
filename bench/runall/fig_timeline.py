"""The epoch timeline of one run, from the shim's JSON statistics: kvstore
under respct-run at 10 ms epochs over shm, every epoch's pause, ship and
commit time and the bytes it shipped."""
import json
import os

from . import plots
from .context import run, summary
from .memnode import Memnode


def run_figure(ctx):
    stats = os.path.join(ctx.scratch, "timeline.json")
    with Memnode(ctx) as mn:
        argv = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
                "--app", "timeline-kvstore", "--fresh", "--epoch-ms", "10", "--stats=json", "--stats-file", stats,
                "--", ctx.binary("bin/kvstore")]
        _, wall = run(argv, timeout=600)
    data = json.load(open(stats))
    tl = data["timeline"]
    t0 = tl[0]["t_ns"] if tl else 0
    epochs = [{"t_ms": (e["t_ns"] - t0) / 1e6, "pause_us": e["pause_ns"] / 1e3, "ship_us": e["ship_ns"] / 1e3,
               "commit_us": e["commit_ns"] / 1e3, "shipped": e["bytes_shipped"]} for e in tl]
    med = {k: summary([e[k] for e in epochs]) for k in ("pause_us", "ship_us", "commit_us")}
    table = ("| per epoch | median µs | min–max µs |\n|---|---|---|\n" +
             "\n".join(f"| {k[:-3]} | {v['median']:.0f} | {v['min']:.0f}–{v['max']:.0f} |" for k, v in med.items()))
    return {"name": "timeline", "title": "Epoch timeline of one run (kvstore, 10 ms, shm)", "goal": "",
            "command": argv, "wall_s": round(wall, 1), "goal_met": None,
            "headline": f"{len(epochs)} epochs ({data['epochs_committed']} committed, "
                        f"{data['epochs_abandoned']} abandoned), tracker {data['tracker']}",
            "rows": epochs, "table": table, "plots": [plot(ctx, epochs)],
            "raw": {k: v for k, v in data.items() if k != "timeline"}}


def plot(ctx, epochs):
    fig, ax = plots.new("Epoch timeline: kvstore under respct, 10 ms epochs, shm", "time since first epoch (ms)",
                        "µs per epoch (log scale)")
    ax.set_yscale("log")
    xs = [e["t_ms"] for e in epochs]
    for key, label in (("pause_us", "pause (threads stopped)"), ("ship_us", "ship"), ("commit_us", "commit")):
        ax.plot(xs, [max(e[key], 1) for e in epochs], marker=".", markersize=3, linewidth=0.6, label=label)
    ax2 = ax.twinx()
    ax2.plot(xs, [e["shipped"] / 2**20 for e in epochs], color="grey", linewidth=0.5, alpha=0.6)
    ax2.set_ylabel("MiB shipped (grey)")
    ax.legend(fontsize=8, loc="upper left")
    return plots.save(fig, ctx, "timeline")
