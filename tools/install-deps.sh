#!/usr/bin/env bash
# Installs the Debian 12 packages respct needs. Idempotent and
# non-interactive: packages already present are left alone.
#
#   tools/install-deps.sh                   build and test (every label but rdma)
#   tools/install-deps.sh --guest           also the QEMU guest tier the rdma tests
#                                           run in (Soft-RoCE, emulated PMem)
#   tools/install-deps.sh --bench           also what only bench/run-all uses
#                                           (plots, criu, gcore, perf)
#   tools/install-deps.sh --guest --bench   everything (what CI installs)
set -euo pipefail

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }
guest=0 bench=0
for arg in "$@"; do
  case "$arg" in
    --guest) guest=1 ;;
    --bench) bench=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-deps: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # packaging: man pages from the tools' --help (cmake --install), the .deb (cpack)
  help2man dpkg-dev
  # clang with libFuzzer and the sanitizer runtimes (tools/fuzz, the fuzz smoke run in CI)
  clang libclang-rt-14-dev
  # RDMA (rdma-core), PMem (PMDK), contexts, unwinding
  libibverbs-dev libpmem2-dev libboost-context-dev libunwind-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # tc, for the network fault tests (tests/faults: tbf, netem)
  iproute2
  # checksums, authentication, command lines, logging
  libxxhash-dev libsodium-dev libcli11-dev libfmt-dev libspdlog-dev
  # real multithreaded programs the tests run unmodified under respct
  pigz xz-utils zstd coreutils
  # real servers the tests and benchmarks run unmodified under respct, and their load generators;
  # CPython, a real threaded program the shim tests run
  memcached libmemcached-tools redis-server redis-tools python3
)
if [[ $guest -eq 1 ]]; then
  packages+=(qemu-system-x86 linux-image-amd64 busybox-static kmod cpio rdma-core ibverbs-providers
             ibverbs-utils perftest rdmacm-utils ndctl e2fsprogs iproute2)
fi
if [[ $bench -eq 1 ]]; then
  # bench/run-all: plots, the full-process checkpoint baselines (criu, gcore), profiles
  packages+=(python3-matplotlib criu gdb linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
