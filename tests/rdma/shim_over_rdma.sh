#!/usr/bin/env bash
# The whole path over real verbs: bank, unmodified, under respct-run with its
# epochs shipped over rdma:// (Soft-RoCE on the guest's loopback) to a
# respct-memnode whose pool is on the DAX mount; kill -9 in the middle of the
# run; respct-recover fetches the image back over rdma:// and resumes the
# program, whose result must equal a native run's.
#
#   shim_over_rdma.sh RESPCT_MEMNODE RESPCT_RUN RESPCT_RECOVER BANK
# Runs inside tools/vm/run-in-guest.sh --pmem (RESPCT_GUEST_PMEM_DIR).
set -euo pipefail
memnode=$1 respct_run=$2 respct_recover=$3 bank=$4
pmem=${RESPCT_GUEST_PMEM_DIR:?"run me inside tools/vm/run-in-guest.sh --pmem"}

dir=$(mktemp -d "$pmem/shim-rdma.XXXXXX")
memnode_pid="" run_pid=""
cleanup() {
  [[ -n $run_pid ]] && kill -9 "$run_pid" 2>/dev/null
  [[ -n $memnode_pid ]] && kill "$memnode_pid" 2>/dev/null
  rm -rf "$dir"
  return 0
}
trap cleanup EXIT
fail() {
  echo "shim_over_rdma: $*" >&2
  echo "--- memnode log ---" >&2
  cat "$dir/memnode.log" >&2
  exit 1
}

# Port 0: the kernel picks the bootstrap port; the ready file names it.
"$memnode" --pool "$dir/pool" --size 8G --listen rdma://127.0.0.1:0 --secret-file "$dir/secret" \
  --ready-file "$dir/ready" --log-level info >"$dir/memnode.log" 2>&1 &
memnode_pid=$!
for _ in $(seq 1 600); do
  [[ -s "$dir/ready" ]] && break
  kill -0 "$memnode_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -s "$dir/ready" ]] || fail "respct-memnode did not become ready"
url=$(grep -m 1 '^rdma://' "$dir/ready") || fail "the ready file names no rdma:// listener: $(cat "$dir/ready")"
echo "memnode listening on $url"

opts=(--transfers 100000 --work-ns 1000 --report-ms 250)
native=$("$bank" "${opts[@]}" | tail -1)
echo "native:    $native"

common=(--memnode "$url" --secret-file "$dir/secret" --app bank-rdma)
"$respct_run" "${common[@]}" --fresh --ring-size 16M --epoch-ms 10 -- "$bank" "${opts[@]}" \
  >"$dir/run.out" 2>"$dir/run.err" &
run_pid=$!
# Killed once it has reported progress three times: epochs have committed by
# then (the first progress line comes 250 ms into the run, ~25 intervals).
for _ in $(seq 1 1200); do
  (( $(grep -c '^bank: progress' "$dir/run.out" || true) >= 3 )) && break
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$run_pid" 2>/dev/null || fail "bank under respct-run ended before the kill: $(tail -3 "$dir/run.err" "$dir/run.out")"
wait "$run_pid" 2>/dev/null || true
run_pid=""
cat "$dir/run.err"
echo "killed bank (SIGKILL) after: $(grep '^bank: progress' "$dir/run.out" | tail -1)"

"$respct_recover" "${common[@]}" -- "$bank" "${opts[@]}" >"$dir/recovered.out" 2>"$dir/recovered.err" ||
  fail "respct-recover exited $?: $(tail -5 "$dir/recovered.err")"
cat "$dir/recovered.err"
recovered=$(tail -1 "$dir/recovered.out")
echo "recovered: $recovered"
# checks= counts the auditor's passes, which depend on timing; the digest and
# the transfer count do not.
strip() { sed 's/ checks=[0-9]*//' <<<"$1"; }
[[ "$(strip "$native")" == "$(strip "$recovered")" ]] || fail "the recovered run's result differs from the native one"
grep -qF "writer attached to app 'bank-rdma'" "$dir/memnode.log" || fail "the memnode logged no rdma writer"
grep -qF "on real PMem (DAX, MAP_SYNC" "$dir/memnode.log" || fail "the pool on $pmem is not mapped as real PMem"
echo "shim_over_rdma: bank killed with SIGKILL and recovered over $url, same result as native"
