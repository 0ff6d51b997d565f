#!/usr/bin/env bash
# The README's demo: the bank example runs under respct-run on the embedded
# memnode, is killed with kill -9 in the middle of its work, and respct-recover
# resumes it from the last committed epoch: it finishes with the same digest
# as an uninterrupted native run, its progress picking up where the image
# left it (not from zero).
#
#   tools/demo.sh [BUILD_DIR [TOOLS_DIR]]   (default: build, BUILD_DIR/bin)
#
# TOOLS_DIR holds respct-run, respct-recover, respct-inspect and
# respct-memnode, e.g. an installed tree's bin/ (the install test runs the demo
# that way); the bank example always comes from BUILD_DIR.
# Uses its own state directory (BUILD_DIR/demo-state) so it never touches the
# user's default pool, and stops the memnode it started when done.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bin
tools=${2:-$bin}
for b in $tools/respct-run $tools/respct-recover $tools/respct-memnode $tools/respct-inspect $bin/bank; do
  [[ -x $b ]] || { echo "demo: $b is missing: build first (see README)" >&2; exit 1; }
done
export RESPCT_STATE_DIR=$(realpath "$build")/demo-state
rm -rf "$RESPCT_STATE_DIR"
cleanup() {
  if [[ -f $RESPCT_STATE_DIR/memnode.ready ]]; then
    # Its first line is the memnode's pid (the listeners' URLs follow).
    kill "$(head -n 1 "$RESPCT_STATE_DIR/memnode.ready")" 2>/dev/null || true
  fi
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

opts=(--transfers 2000000 --work-ns 1000 --report-ms 1000)

say "bank, natively: the digest every correct run prints"
native=$("$bin/bank" "${opts[@]}" | tail -1)
echo "$native"

say "bank under respct-run (embedded memnode, 10 ms epochs); kill -9 after 2 s"
"$tools/respct-run" --epoch-ms 10 -- "$bin/bank" "${opts[@]}" &
pid=$!
sleep 2
if ! kill -9 "$pid" 2>/dev/null; then
  wait "$pid" 2>/dev/null || true
  echo "demo: bank finished before the kill (a very fast machine): nothing to recover" >&2
  exit 1
fi
wait "$pid" 2>/dev/null || true
echo "(bank killed with SIGKILL)"

say "what the memnode kept: the last committed epoch of app 'bank'"
"$tools/respct-inspect" --app bank

say "respct-recover: the same program resumes from that epoch, every thread where it was"
recovered_out=$RESPCT_STATE_DIR/recovered.out
"$tools/respct-recover" -- "$bin/bank" "${opts[@]}" | tee "$recovered_out"
recovered=$(tail -1 "$recovered_out")

say "result"
echo "native:    $native"
echo "recovered: $recovered"
strip() { sed 's/ checks=[0-9]*//' <<<"$1"; }
if [[ "$(strip "$native")" == "$(strip "$recovered")" ]]; then
  echo "same digest: the killed run was resumed, not restarted, and lost nothing"
else
  echo "demo: the recovered run's result differs from the native one" >&2
  exit 1
fi
