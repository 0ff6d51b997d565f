#!/usr/bin/env bash
# An installed respct works on its own: `cmake --install` of BUILD_DIR into a
# staging root (DESTDIR), every file where cmake/Install.cmake says, and the
# README's demo run with the installed tools (which must find the installed
# librespct.so and respct-memnode relative to themselves: the staging tree
# has no build-tree library beside them).
#
#   tests/install/staged_install.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d /tmp/respct-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
fail() { echo "staged_install: $*" >&2; exit 1; }

DESTDIR=$stage cmake --install "$build" >"$stage/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
root=$stage$prefix

libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
for f in bin/respct-run bin/respct-recover bin/respct-inspect bin/respct-memnode "${libdir:-lib}/respct/librespct.so" \
         lib/systemd/system/respct-memnode.service; do
  [[ -e $root/$f ]] || fail "$f is not installed under $prefix (see $stage/install.log)"
done
find "$stage" -path '*/default/respct-memnode' | grep -q . || fail "the memnode's defaults file is not installed"
if command -v help2man >/dev/null; then
  for m in man1/respct-run.1.gz man1/respct-recover.1.gz man1/respct-inspect.1.gz man8/respct-memnode.8.gz; do
    [[ -s $root/share/man/$m ]] || fail "man page $m is missing"
  done
  man -l "$root/share/man/man1/respct-run.1.gz" 2>/dev/null | grep -q -- '--memnode' || fail "respct-run(1) lacks its options"
fi
grep -q "^ExecStart=$prefix/bin/respct-memnode " "$root/lib/systemd/system/respct-memnode.service" ||
  fail "the service unit does not start $prefix/bin/respct-memnode"
for t in respct-run respct-recover respct-inspect respct-memnode; do
  "$root/bin/$t" --help >/dev/null || fail "$t --help failed"
done
echo "installed under $stage$prefix: $(find "$stage" -type f | wc -l) files"

# The demo, with the installed tools (its state in BUILD_DIR/demo-state).
out=$stage/demo.out
bash "$src/tools/demo.sh" "$build" "$root/bin" >"$out" 2>&1 ||
  { cat "$out"; fail "the demo failed with the installed tools"; }
grep -q "same digest" "$out" || { cat "$out"; fail "the demo did not end with the same digest"; }
echo "demo with the installed tools: $(grep 'same digest' "$out")"
