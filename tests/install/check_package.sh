#!/usr/bin/env bash
# The Debian package: cpack in BUILD_DIR (configured with
# -DCMAKE_INSTALL_PREFIX=/usr), then the .deb's contents, control data and
# dependencies checked, and the README's demo run with the tools unpacked
# from it (dpkg-deb -x, so nothing is installed on this machine).
#
#   tests/install/check_package.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/respct-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_package: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/out/*.deb)
dpkg-deb -c "$deb" >"$work/contents"
for f in ./usr/bin/respct-run ./usr/bin/respct-recover ./usr/bin/respct-inspect ./usr/bin/respct-memnode \
         ./usr/lib/systemd/system/respct-memnode.service ./etc/default/respct-memnode \
         ./usr/share/man/man1/respct-run.1.gz ./usr/share/man/man8/respct-memnode.8.gz; do
  grep -q " $f\$" "$work/contents" || fail "$f is not in $(basename "$deb")"
done
# Debian's multiarch libdir with the /usr prefix: /usr/lib/<triplet>/respct/.
grep -Eq ' \./usr/lib/([a-z0-9_-]+/)?respct/librespct\.so$' "$work/contents" || fail "librespct.so is not in the package"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/default/respct-memnode "$work/control/conffiles" || fail "/etc/default/respct-memnode is not a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libibverbs1 libpmem2 libsodium23; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
echo "$(basename "$deb"): $(wc -l <"$work/contents") entries; Depends: $depends"

dpkg-deb -x "$deb" "$work/root"
bash "$src/tools/demo.sh" "$build" "$work/root/usr/bin" >"$work/demo.out" 2>&1 ||
  { cat "$work/demo.out"; fail "the demo failed with the packaged tools"; }
grep "same digest" "$work/demo.out" || { cat "$work/demo.out"; fail "no same digest"; }
