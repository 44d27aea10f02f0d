#!/bin/bash
# Build the pagehint guest kernel out of tree.
#
#   scripts/kernel.sh [FLAVOUR]     FLAVOUR: default | debug | pristine
#
# pristine is Debian's tree without the series, same config: the baseline
# for overhead benchmarks.
#
# Without KSRC, the tree is Debian's linux-source-6.12 tarball extracted
# under build/src and kept as a git repository, so re-applying the series
# (git reset to pristine, patch -p1) only touches the files the patches
# change and the out-of-tree build stays incremental. With KSRC=/path the
# given tree is built as it is (apply kernel/series yourself).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-default}
build=${BUILD:-$top/build}
jobs=${JOBS:-$(nproc)}
tarball=${LINUX_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
out=$build/kernel-$flavour

die() { echo "kernel.sh: $*" >&2; exit 1; }

fragments=("$top/kernel/config/pagehint.config")
case $flavour in
default) ;;
debug) fragments+=("$top/kernel/config/debug.config") ;;
pristine)
	# Symbols the series adds do not exist without it.
	mkdir -p "$build"
	grep -v 'PAGE_REPORTING_KUNIT' "$top/kernel/config/pagehint.config" \
		> "$build/pristine.config"
	fragments=("$build/pristine.config") ;;
*) die "unknown flavour '$flavour' (hint: default, debug or pristine)" ;;
esac

prepare_tree() {
	local src=$build/src/linux-6.12
	local want have
	[ -r "$tarball" ] || die "no $tarball (hint: apt-get install linux-source-6.12, or set KSRC=/path/to/linux)"
	if [ ! -d "$src/.git" ]; then
		echo "  EXTRACT $tarball" >&2
		rm -rf "$src" "$src.tmp"
		mkdir -p "$src.tmp"
		tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
		git -C "$src.tmp" init -q
		git -C "$src.tmp" config gc.auto 0
		git -C "$src.tmp" -c user.name=pagehint -c user.email=pagehint@localhost \
			-c core.autocrlf=false add -A -f .
		git -C "$src.tmp" -c user.name=pagehint -c user.email=pagehint@localhost \
			commit -q -m pristine
		git -C "$src.tmp" tag pristine
		mv "$src.tmp" "$src"
	fi
	# The applied series is identified by the hash of its patches, the
	# tree by the hash of its diff against pristine: a tree changed by
	# hand (or left mutated by scripts/mutants.py) is patched again.
	want=$(cd "$top/kernel" && cat series $(grep -v '^#' series) | sha256sum | cut -c1-16)
	have=$(cat "$src/.pagehint-series" 2>/dev/null || true)
	tree=$(git -C "$src" diff pristine | sha256sum | cut -c1-16)
	if [ "$want" != "$have" ] || [ "$tree" != "$(cat "$src/.pagehint-tree" 2>/dev/null)" ]; then
		echo "  PATCH   kernel/series" >&2
		git -C "$src" reset -q --hard pristine
		git -C "$src" clean -q -fdx -e .pagehint-series
		local p
		for p in $(grep -v '^#' "$top/kernel/series"); do
			patch -s -p1 -d "$src" < "$top/kernel/$p" || die "patch $p does not apply"
		done
		echo "$want" > "$src/.pagehint-series"
		git -C "$src" diff pristine | sha256sum | cut -c1-16 > "$src/.pagehint-tree"
	fi
	echo "$src"
}

if [ "$flavour" = pristine ]; then
	[ -z "${KSRC:-}" ] || die "KSRC and the pristine flavour do not mix"
	tree=$(prepare_tree)
	src=$build/src/linux-6.12-pristine
	# A worktree at the pristine tag shares the repository's objects.
	if [ ! -d "$src" ]; then
		git -C "$tree" worktree add -q --detach "$src" pristine
	fi
elif [ -n "${KSRC:-}" ]; then
	[ -f "$KSRC/Makefile" ] && [ -d "$KSRC/mm" ] || die "KSRC=$KSRC is not a kernel tree"
	src=$(cd "$KSRC" && pwd)
	[ -f "$src/include/trace/events/page_hinting.h" ] ||
		echo "kernel.sh: note: $src has no page_hinting tracepoints (kernel/series not applied)" >&2
else
	src=$(prepare_tree)
fi

mkdir -p "$out"
cc="gcc"
command -v ccache >/dev/null && cc="ccache gcc"
# Let another checkout (CI's clean clone) hit the same cache: paths under
# build/ are hashed relative to the build directory, and the working
# directory (only in debug info) is left out of the hash.
export CCACHE_BASEDIR=$build CCACHE_NOHASHDIR=1
# Fixed build metadata keeps init/version.c and friends cacheable.
export KBUILD_BUILD_TIMESTAMP="2024-11-17" KBUILD_BUILD_USER=pagehint KBUILD_BUILD_HOST=pagehint
kmake() { make -s -C "$src" O="$out" ARCH=x86_64 CC="$cc" HOSTCC="$cc" "$@"; }

# Regenerate .config only when a fragment changed, so `make kernel` is a
# no-op on an unchanged tree.
cfgsum=$(cat "${fragments[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.pagehint-config" 2>/dev/null)" != "$cfgsum" ]; then
	echo "  CONFIG  tinyconfig + ${fragments[*]##*/}" >&2
	kmake tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
	kmake olddefconfig >/dev/null
	missing=0
	for f in "${fragments[@]}"; do
		while IFS= read -r line; do
			case $line in CONFIG_*=*) ;; *) continue ;; esac
			grep -qxF "$line" "$out/.config" || { echo "kernel.sh: $line did not stick in .config" >&2; missing=1; }
		done < "$f"
	done
	[ $missing = 0 ] || die "config fragment not satisfied (hint: a dependency is missing in kernel/config/)"
	echo "$cfgsum" > "$out/.pagehint-config"
fi

echo "  BUILD   $out (jobs=$jobs)" >&2
start=$(date +%s)
kmake -j"$jobs" bzImage
echo "  DONE    $out/arch/x86/boot/bzImage in $(( $(date +%s) - start )) s" >&2
