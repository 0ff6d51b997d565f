"""real: unmodified multithreaded programs from Debian under respct-run (10 ms
epochs, a memnode of the harness's own over shm) against the same command
natively, interleaved in each repetition with the order alternated, as time
under respct / native time. Each row also checks that the program's output
file is byte for byte the native one, and reports from the shim's --stats
JSON the epochs committed, the median pause and the bytes shipped.

Rows (inputs generated with a fixed seed into the run's scratch directory):
xz -T2 -1 and pigz -p 2 and zstd -T2 compressing a text-like file (27 MB;
4 MB with --quick), python3 with two threads filling dicts under a lock
(tests/shim/threads_count.py), and sort --parallel=2 of a file of random
lines (96 MB; 16 MB with --quick) with a 256 MB buffer: the program that
dirties hundreds of MB in about a second. Goal (issue 12): <= 1.05, and
<= 1.10 for the sort row."""
import hashlib
import json
import os
import random
import time

from .context import CommandFailed, run, spread, summary
from .memnode import Memnode

NAME = "real"
TITLE = "Real programs (xz, pigz, zstd, python3, sort) under respct / native"
GOAL = "<= 1.05 (<= 1.10 for sort, hundreds of MB dirtied)"

WORDS = ("the of and to in is was that for on with as by at from his her which an be this are or had not but "
         "were they have one all their there been has when who more will would no if out so said what up its "
         "about into than them can only other new some could time these two may then do first any my now "
         "such like our over man me even most made after also did many before must through back years where "
         "much your way well down should because each just those people how too little state good very make "
         "world still own see men work long get here between both life being under never day same another "
         "know while last might us great old year off come since against go came right used take three").split()


def text_file(path, size, seed):
    """Prose-like bytes: words of a fixed vocabulary, lines of 60-100 chars."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        written = 0
        while written < size:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 16))) + "\n"
            f.write(line)
            written += len(line)


def lines_file(path, size, seed):
    """Random alphanumeric keys with a payload: what sort has to move."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    with open(path, "w") as f:
        written = 0
        while written < size:
            line = "".join(rng.choice(alphabet) for _ in range(12)) + "\t" + "x" * rng.randint(20, 80) + "\n"
            f.write(line)
            written += len(line)


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def last_line(path):
    """threads_count prints progress lines on a timer; its result is the last line."""
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    return lines[-1] if lines else b""


def programs(ctx):
    """(row, argv, goal ratio, what of the output must agree); inputs written now."""
    text = os.path.join(ctx.scratch, "real-text")
    lines = os.path.join(ctx.scratch, "real-lines")
    text_file(text, (4 if ctx.quick else 27) << 20, 1)
    lines_file(lines, (16 if ctx.quick else 96) << 20, 2)
    threads_count = os.path.join(ctx.repo, "tests", "shim", "threads_count.py")
    return [
        ("xz -T2 -1", ["xz", "-T2", "-1", "-c", text], 1.05, digest),
        ("pigz -p 2", ["pigz", "-p", "2", "-c", text], 1.05, digest),
        ("zstd -T2 -3", ["zstd", "-T2", "-3", "-q", "-c", text], 1.05, digest),
        ("python3, 2 threads", ["/usr/bin/python3", threads_count, "40" if ctx.quick else "300"], 1.05, last_line),
        ("sort --parallel=2", ["sort", "--parallel=2", "-S", "256M", lines], 1.10, digest),
    ]


def one_run(ctx, mn, row, argv, out, respct, rep):
    """Runs argv with its standard output into `out`; returns (wall s, stats or None)."""
    stats = os.path.join(ctx.scratch, f"real-{rep}.json")
    if respct:
        if os.path.exists(stats):
            os.unlink(stats)
        argv = [ctx.binary("bin/respct-run"), "--memnode", mn.shm_url, "--secret-file", mn.secret_file,
                "--app", "bench-real", "--fresh", "--epoch-ms", "10", "--stats=json", "--stats-file", stats,
                "--"] + argv
    # The output goes to a file through a shell redirection on neither side's
    # clock: both sides run under `sh -c 'exec "$@" > out'`, whose exec leaves
    # only the program (or respct-run and its program) in the process.
    _, wall = run(["sh", "-c", 'out="$1"; shift; exec "$@" > "$out"', "sh", out] + argv, timeout=900)
    if not respct:
        return wall, None
    if not os.path.exists(stats):
        raise CommandFailed(f"{row}: respct-run wrote no statistics (did the program exec another one?)")
    with open(stats) as f:
        data = json.load(f)
    return wall, {"epochs_committed": data["epochs_committed"], "epochs_abandoned": data["epochs_abandoned"],
                  "pause_p50_us": data["pause_us"]["p50"], "bytes_shipped": data["bytes_shipped"],
                  "tracker": data.get("tracker")}


def run_figure(ctx):
    t0 = time.monotonic()
    rows = []
    with Memnode(ctx) as mn:
        for row, argv, goal, result in programs(ctx):
            native_out = os.path.join(ctx.scratch, "real-native.out")
            respct_out = os.path.join(ctx.scratch, "real-respct.out")
            ratios, native_s, stats = [], [], []
            for rep in range(ctx.reps):
                order = (False, True) if rep % 2 == 0 else (True, False)
                times = {}
                for respct in order:
                    wall, st = one_run(ctx, mn, row, argv, respct_out if respct else native_out, respct, rep)
                    times[respct] = wall
                    if st:
                        stats.append(st)
                if result(native_out) != result(respct_out):
                    raise CommandFailed(f"{row}: the output under respct differs from the native output")
                ratios.append(times[True] / times[False])
                native_s.append(times[False])
            r = {"program": row, "command": argv, "goal": goal, "ratio": summary(ratios),
                 "native_s": summary(native_s),
                 "epochs_committed": summary([s["epochs_committed"] for s in stats]),
                 "epochs_abandoned": summary([s["epochs_abandoned"] for s in stats]),
                 "pause_p50_us": summary([s["pause_p50_us"] for s in stats]),
                 "shipped_mb": summary([s["bytes_shipped"] / 1e6 for s in stats]),
                 "tracker": stats[0]["tracker"] if stats else None}
            rows.append(r)
    met = [r for r in rows if r["ratio"]["median"] <= r["goal"]]
    worst = max(rows, key=lambda r: r["ratio"]["median"] / r["goal"])
    return {"name": NAME, "title": TITLE, "goal": GOAL,
            "command": ["bench/run-all", "--only", NAME] + (["--quick"] if ctx.quick else []),
            "wall_s": round(time.monotonic() - t0, 1), "rows": rows, "goal_met": len(met) == len(rows),
            "headline": f"{len(met)} of {len(rows)} programs within their goal; furthest: {worst['program']} at "
                        f"{worst['ratio']['median']:.2f} (goal {worst['goal']:.2f})",
            "table": table(rows)}


def table(rows):
    lines = ["| program | native s | respct / native median [min–max] | goal | epochs committed | pause p50 µs | "
             "MB shipped |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['program']}` | {r['native_s']['median']:.2f} | {spread(r['ratio'])} | "
                     f"{r['goal']:.2f} | {r['epochs_committed']['median']:.0f} | "
                     f"{r['pause_p50_us']['median']:.0f} | {r['shipped_mb']['median']:.0f} |")
    return "\n".join(lines)
