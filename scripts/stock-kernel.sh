#!/bin/bash
# Fetch Debian's unmodified 6.12 kernel image (linux-image-6.12.*-amd64-
# unsigned, the baseline pagehint compares against) and unpack it under
# build/stock: vmlinuz and lib/modules/VERSION. Not installed on the host.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD:-$top/build}/stock
mkdir -p "$dir"
if [ -f "$dir/vmlinuz" ] && [ -d "$dir/modules" ]; then
	exit 0
fi
pkg=${STOCK_PKG:-$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
	awk '{print $1}' | sort -V | tail -n 1)}
[ -n "$pkg" ] || { echo "stock-kernel.sh: no linux-image-6.12.*-amd64-unsigned in the archive" >&2;
	echo "hint: apt-get update; bookworm-security carries linux 6.12" >&2; exit 1; }
echo "  FETCH   $pkg" >&2
rm -rf "$dir/root" "$dir"/*.deb
(cd "$dir" && apt-get download -qq "$pkg" 2>/dev/null) ||
	{ echo "stock-kernel.sh: apt-get download $pkg failed (hint: apt-get update)" >&2; exit 1; }
dpkg-deb -x "$dir"/*.deb "$dir/root"
cp "$dir"/root/boot/vmlinuz-* "$dir/vmlinuz"
ver=$(basename "$(ls -d "$dir"/root/lib/modules/*)")
# The package ships no modules.dep: depmod makes it at install time.
depmod -b "$dir/root" "$ver"
ln -sfn "$dir/root/lib/modules/$ver" "$dir/modules"
echo "$pkg" > "$dir/package"
rm -f "$dir"/*.deb
