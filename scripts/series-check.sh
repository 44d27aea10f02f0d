#!/bin/bash
# Every prefix of the kernel series builds and boots.
#
#   scripts/series-check.sh [TREE [OUTDIR]]
#
# TREE is a git checkout of Linux 6.12 whose commits after the tag
# `pristine` are the series (a `git am` of kernel/*.patch; default
# build/src/linux-dev), OUTDIR its out-of-tree build (default
# build/kernel-dev, configured like build/kernel-default). For each
# prefix: the files the prefix touches under mm/ are compiled with W=1
# and must give no warning, bzImage is built, and the kernel boots the
# `boot` scenario under QEMU. One line per prefix; exit 1 on the first
# failure. The tree is left at its last commit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=${1:-$build/src/linux-dev}
out=${2:-$build/kernel-dev}
export CCACHE_BASEDIR=$build CCACHE_NOHASHDIR=1
export KBUILD_BUILD_TIMESTAMP="2024-11-17" KBUILD_BUILD_USER=pagehint KBUILD_BUILD_HOST=pagehint
kmake() { make -s -C "$tree" O="$out" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" -j"$(nproc)" "$@"; }

head=$(git -C "$tree" rev-parse HEAD)
trap 'git -C "$tree" checkout -q "$head"' EXIT
n=0
for c in $(git -C "$tree" rev-list --reverse pristine..HEAD); do
	n=$((n + 1))
	git -C "$tree" checkout -q "$c"
	subj=$(git -C "$tree" log -1 --format=%s "$c")
	kmake olddefconfig >/dev/null
	objs=$(git -C "$tree" diff --name-only "$c~1" "$c" -- 'mm/*.c' |
		grep -v _kunit.c | sed 's/\.c$/.o/' || true)
	start=$(date +%s)
	if [ -n "$objs" ]; then
		touch $(sed 's/\.o$/.c/' <<<"$objs" | sed "s|^|$tree/|")
		warn=$(kmake W=1 $objs 2>&1 | grep -E 'warning:|error:' || true)
		[ -z "$warn" ] || { echo "prefix $n ($subj): W=1 warnings:"; echo "$warn"; exit 1; }
	fi
	kmake bzImage 2>&1 | grep -E 'error:|warning:' && { echo "prefix $n: build warnings"; exit 1; }
	/usr/bin/python3 "$top/vm/pagehint_vm.py" --kernel "$out/arch/x86/boot/bzImage" \
		--initrd "$build/guest/initramfs.cpio.gz" --scenario boot --timeout 120 \
		--out "$build/runs/series-$n" >/dev/null 2>&1 ||
		{ echo "prefix $n ($subj): does not boot (see $build/runs/series-$n)"; exit 1; }
	echo "prefix $n ok ($(( $(date +%s) - start )) s): $subj"
done
