#!/usr/bin/env bash
# respct-memnode on real (emulated) PMem: its pool on the guest's ext4 -o dax
# mount must be mapped by libpmem2 with MAP_SYNC and persisted with CPU
# flushes, which the memnode says in its start-up log. Then the protocol
# integration tests (shm and tcp) run against memnodes whose pools live on
# that mount (RESPCT_TEST_TMPDIR), i.e. commit, apply and replay through
# the PMem persistence path instead of msync.
#
#   memnode_dax.sh RESPCT_MEMNODE PROTOCOL_INTEGRATION_TEST
# Runs inside tools/vm/run-in-guest.sh --pmem (RESPCT_GUEST_PMEM_DIR).
set -euo pipefail
memnode=$1 protocol_test=$2
pmem=${RESPCT_GUEST_PMEM_DIR:?"run me inside tools/vm/run-in-guest.sh --pmem"}
readonly expected="real PMem (DAX, MAP_SYNC, CPU flush)"

dir=$(mktemp -d "$pmem/memnode-dax.XXXXXX")
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

"$memnode" --pool "$dir/pool" --size 256M --listen "shm://$dir/s.sock" --secret-file "$dir/secret" \
  --ready-file "$dir/ready" --log-level info >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [[ -s "$dir/ready" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
cat "$dir/log"
[[ -s "$dir/ready" ]] || { echo "memnode_dax: respct-memnode did not become ready on $dir" >&2; exit 1; }
if ! grep -qF "on $expected" "$dir/log"; then
  echo "memnode_dax: the memnode's pool on $pmem is not mapped as '$expected'" >&2
  exit 1
fi
kill -TERM "$pid"
wait "$pid" || { echo "memnode_dax: respct-memnode did not stop cleanly on SIGTERM" >&2; exit 1; }
pid=""
echo "memnode_dax: pool on $pmem mapped as $expected"

echo "memnode_dax: protocol integration tests (shm, tcp) with their pools on $pmem"
RESPCT_TEST_TMPDIR=$pmem "$protocol_test" --gtest_filter='*/shm:*/tcp' --gtest_brief=1
