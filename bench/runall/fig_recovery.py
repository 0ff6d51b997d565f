"""P7: recovery time vs image size. Fetch of the image through
Transport::ReadImage over shm and tcp against a raw pread of the same bytes
in the same run, and end to end (kill -9, respct-recover until the program
goes on) when respct-recover is built (bench/recovery). The goal is judged
on the end-to-end time when there is one, else on the fetch."""

from . import plots
from .context import reps_args, run_json_bench, spread, summary


def run_figure(ctx):
    argv, wall, data = run_json_bench(ctx, "bench/recovery/bench_recovery", reps_args(ctx))
    rows = []
    for r in data["fetch"]:
        gib = r["image_bytes"] / 2**30
        rows.append({"image_bytes": r["image_bytes"], "transport": r["transport"],
                     "fetch_s": summary(r["fetch_s"]), "raw_read_s": summary(r["raw_read_s"]),
                     "fetch_over_raw": summary([f / w for f, w in zip(r["fetch_s"], r["raw_read_s"])]),
                     "s_per_gib": summary([f / gib for f in r["fetch_s"]])})
    recover = [{"image_bytes": r["image_bytes"], "recover_s": summary(r["recover_s"]),
                "s_per_gib": summary([t * 2**30 / r["image_bytes"] for t in r["recover_s"]])}
               for r in data.get("recover", [])]
    shm = [r for r in rows if r["transport"] == "shm"]
    largest = max(shm, key=lambda r: r["image_bytes"]) if shm else None
    largest_e2e = max(recover, key=lambda r: r["image_bytes"]) if recover else None
    lines = ["Fetch: connect a reader and `ReadImage` the whole region; raw: `pread` of the same bytes.", "",
             "| image | transport | fetch s | raw read s | fetch/raw median [min–max] | s per GiB |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['image_bytes'] >> 20} MiB | {r['transport']} | {r['fetch_s']['median']:.3f} | "
                     f"{r['raw_read_s']['median']:.3f} | {spread(r['fetch_over_raw'])} | "
                     f"{r['s_per_gib']['median']:.3f} |")
    lines += ["", data["end_to_end"][0].upper() + data["end_to_end"][1:] + "."]
    if recover:
        lines += ["", "| image | respct-recover until the program goes on, s, median [min–max] | s per GiB |",
                  "|---|---|---|"]
        for r in recover:
            lines.append(f"| {r['image_bytes'] >> 20} MiB | {spread(r['recover_s'], 3)} | "
                         f"{r['s_per_gib']['median']:.3f} |")
    return {"name": "P7", "title": "Recovery time vs image size", "goal": "<= 1 s/GiB over shm",
            "command": argv, "wall_s": round(wall, 1), "rows": rows, "recover": recover,
            "end_to_end": data["end_to_end"],
            "goal_met": (largest_e2e or largest) is not None and (largest_e2e or largest)["s_per_gib"]["median"] <= 1.0,
            "headline": headline(largest, largest_e2e),
            "table": "\n".join(lines), "plots": [plot(ctx, rows, recover)], "raw": data}


def headline(fetch, e2e):
    text = ""
    if e2e:
        text = (f"end to end (kill -9, respct-recover until the program goes on): "
                f"{e2e['s_per_gib']['median']:.3f} s/GiB at {e2e['image_bytes'] >> 20} MiB; ")
    elif fetch:
        text = "fetch only (end-to-end not run): "
    if fetch:
        text += (f"fetch {fetch['s_per_gib']['median']:.3f} s/GiB over shm at {fetch['image_bytes'] >> 20} MiB, "
                 f"{fetch['fetch_over_raw']['median']:.1f}x a raw read")
    return text or "no shm row"


def plot(ctx, rows, recover):
    fig, ax = plots.new("P7: recovery time vs image size (median, min–max)", "image size (MiB)", "seconds")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for transport in sorted({r["transport"] for r in rows}):
        pts = sorted((r for r in rows if r["transport"] == transport), key=lambda r: r["image_bytes"])
        xs = [r["image_bytes"] / 2**20 for r in pts]
        med = [r["fetch_s"]["median"] for r in pts]
        err = [[m - r["fetch_s"]["min"] for m, r in zip(med, pts)], [r["fetch_s"]["max"] - m for m, r in zip(med, pts)]]
        ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=f"ReadImage over {transport}")
    if recover:
        pts = sorted(recover, key=lambda r: r["image_bytes"])
        xs = [r["image_bytes"] / 2**20 for r in pts]
        med = [r["recover_s"]["median"] for r in pts]
        err = [[m - r["recover_s"]["min"] for m, r in zip(med, pts)],
               [r["recover_s"]["max"] - m for m, r in zip(med, pts)]]
        ax.errorbar(xs, med, yerr=err, marker="s", capsize=3, label="end to end: respct-recover (shm)")
    pts = sorted((r for r in rows if r["transport"] == "shm"), key=lambda r: r["image_bytes"]) or rows
    ax.plot([r["image_bytes"] / 2**20 for r in pts], [r["raw_read_s"]["median"] for r in pts], color="black",
            marker="x", label="raw pread of the same bytes")
    ax.plot([r["image_bytes"] / 2**20 for r in pts], [r["image_bytes"] / 2**30 for r in pts], color="grey",
            linestyle=":", label="goal 1 s/GiB")
    ax.legend(fontsize=8)
    return plots.save(fig, ctx, "p7_recovery")
