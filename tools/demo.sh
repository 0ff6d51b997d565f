#!/usr/bin/env bash
# The README's demo: the bank example runs under respct-run on the embedded
# memnode, is killed with kill -9 in the middle of its work, and the memnode
# is shown to hold its state as of the last committed epoch.
#
#   tools/demo.sh [BUILD_DIR]     (default: build)
#
# Uses its own state directory (BUILD_DIR/demo-state) so it never touches the
# user's default pool, and stops the memnode it started when done.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bin
for b in respct-run respct-memnode respct-inspect bank; do
  [[ -x $bin/$b ]] || { echo "demo: $bin/$b is missing: build first (see README)" >&2; exit 1; }
done
export RESPCT_STATE_DIR=$(realpath "$build")/demo-state
rm -rf "$RESPCT_STATE_DIR"
cleanup() {
  if [[ -f $RESPCT_STATE_DIR/memnode.ready ]]; then
    kill "$(cat "$RESPCT_STATE_DIR/memnode.ready")" 2>/dev/null || true
  fi
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "bank, natively: the digest every correct run prints"
native=$("$bin/bank" --transfers 500000 --work-ns 2000 | tail -1)
echo "$native"

say "bank under respct-run (embedded memnode, 10 ms epochs); kill -9 after 1.5 s"
"$bin/respct-run" --epoch-ms 10 -- "$bin/bank" --transfers 500000 --work-ns 2000 --report-ms 300 &
pid=$!
sleep 1.5
if kill -9 "$pid" 2>/dev/null; then
  echo "(bank killed with SIGKILL)"
else
  echo "(bank finished before the kill: this machine is fast; the image below is its final epoch)"
fi
wait "$pid" 2>/dev/null || true

say "what the memnode kept: the last committed epoch of app 'bank'"
"$bin/respct-inspect" --app bank

say "the same run to completion under respct-run: same digest as native"
"$bin/respct-run" --fresh --stats -- "$bin/bank" --transfers 500000 --work-ns 2000 --report-ms 100000 2>&1 | tail -6
echo
echo "native:  $native"
echo
echo "Resuming the killed run from its image (respct-recover) is the next stage of respct; see README, Status."
