"""What every figure needs: where the binaries are, where results go, how many
repetitions, and one way to run a command with its output kept for the report."""
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time


@dataclasses.dataclass
class Context:
    repo: str            # source tree (for tools/, the README)
    build: str           # build directory with bin/, lib/, bench/, examples/
    results_dir: str     # <out>/bench/results
    img_dir: str         # <out>/docs/img
    docs_file: str       # <out>/docs/EVALUATION.md
    scratch: str         # temporary files of this run (pools, cores, snapshots)
    quick: bool
    reps: int
    with_rdma: bool
    profile: bool        # profile figures that miss their goal (perf record)

    def binary(self, relative):
        """Path of a built binary, e.g. 'bench/locks/bench_locks'."""
        return os.path.join(self.build, relative)


class CommandFailed(RuntimeError):
    pass


def log(message):
    print(f"[run-all {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(argv, timeout, env=None, cwd=None, check=True):
    """Runs argv to completion; returns (CompletedProcess, wall seconds)."""
    log("$ " + " ".join(shlex.quote(a) for a in argv))
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=full_env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise CommandFailed(f"{argv[0]} timed out after {timeout} s") from e
    wall = time.monotonic() - t0
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise CommandFailed(f"{os.path.basename(argv[0])} exited {proc.returncode}: {tail}")
    return proc, wall


def run_json_bench(ctx, relative, args, timeout=3600):
    """Runs a bench binary that writes its results with --json FILE; returns
    (argv, wall seconds, the parsed results)."""
    out = os.path.join(ctx.scratch, os.path.basename(relative) + ".json")
    argv = [ctx.binary(relative), "--json", out] + list(args)
    _, wall = run(argv, timeout=timeout)
    with open(out) as f:
        return argv, wall, json.load(f)


def reps_args(ctx):
    """The repetition flags of the C++ benches: their own --quick, else --reps."""
    return ["--quick"] if ctx.quick else ["--reps", str(ctx.reps)]


def summary(values):
    """Median and range of a sample: {'median','min','max','n','values'}."""
    v = sorted(values)
    if not v:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    n = len(v)
    median = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return {"median": median, "min": v[0], "max": v[-1], "n": n, "values": list(values)}


def spread(s, digits=2):
    """'median [min–max]' of a summary(), as the tables print it."""
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}–{s['max']:.{digits}f}]"


def warn(message):
    print(f"[run-all] warning: {message}", file=sys.stderr, flush=True)
