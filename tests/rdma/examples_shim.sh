#!/usr/bin/env bash
# The example programs, unmodified, under respct-run with its embedded
# memnode keeping their state on the guest's DAX mount (RESPCT_STATE_DIR):
# each must print its self-checked "ok" result line, the shim must have
# picked the dirty tracker the guest kernel supports by itself (--tracker
# auto: userfaultfd write-protect needs UFFD WP_ASYNC, kernel >= 6.7, else
# mprotect), and the memnode must have mapped its pool as real PMem.
#
#   examples_shim.sh RESPCT_RUN BANK KVSTORE
# Runs inside tools/vm/run-in-guest.sh --pmem (RESPCT_GUEST_PMEM_DIR).
set -euo pipefail
respct_run=$1 bank=$2 kvstore=$3
pmem=${RESPCT_GUEST_PMEM_DIR:?"run me inside tools/vm/run-in-guest.sh --pmem"}

export RESPCT_STATE_DIR
RESPCT_STATE_DIR=$(mktemp -d "$pmem/examples-shim.XXXXXX")
stop_memnode() {
  # The ready file's first line is the memnode's pid (the listeners' URLs follow).
  [[ -f "$RESPCT_STATE_DIR/memnode.ready" ]] && kill "$(head -n 1 "$RESPCT_STATE_DIR/memnode.ready")" 2>/dev/null
  rm -rf "$RESPCT_STATE_DIR"
}
trap stop_memnode EXIT

kernel=$(uname -r)
IFS=. read -r major minor _ <<<"$kernel"
expected_tracker=mprotect
(( major > 6 || (major == 6 && minor >= 7) )) && expected_tracker=uffd

failed=0
# run_example NAME PROGRAM ARGS...
run_example() {
  local name=$1
  shift
  local out=$RESPCT_STATE_DIR/$name.out err=$RESPCT_STATE_DIR/$name.err rc=0
  # A 16M ring is plenty for these programs and keeps the pool small on the NVDIMM.
  "$respct_run" --tracker auto --log-level info --ring-size 16M --fresh -- "$@" >"$out" 2>"$err" || rc=$?
  cat "$out" "$err"
  if [[ $rc -ne 0 ]]; then
    echo "examples_shim: $name exited $rc under respct-run" >&2
    failed=1
  elif ! grep -qE "^$name: digest=[0-9a-f]+ .* ok$" "$out"; then
    echo "examples_shim: $name did not print its ok result line" >&2
    failed=1
  fi
  if ! grep -qE "app '$name' on .*: tracker $expected_tracker," "$err"; then
    echo "examples_shim: $name: expected the shim to pick the $expected_tracker tracker on kernel $kernel" >&2
    failed=1
  fi
}

run_example bank "$bank" --transfers 20000 --work-ns 100
run_example kvstore "$kvstore" --ops 40000

cat "$RESPCT_STATE_DIR/memnode.log"
if ! grep -qF "on real PMem (DAX, MAP_SYNC, CPU flush)" "$RESPCT_STATE_DIR/memnode.log"; then
  echo "examples_shim: the embedded memnode's pool on $pmem is not mapped as real PMem" >&2
  failed=1
fi
[[ $failed -eq 0 ]] && echo "examples_shim: bank and kvstore ok under respct-run, tracker $expected_tracker, pool on DAX"
exit "$failed"
