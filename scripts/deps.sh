#!/bin/bash
# Install the Debian packages pagehint needs, only those missing.
# Idempotent: runs apt-get only when something is not installed yet.
set -euo pipefail
pkgs=(
	make gcc patch perl git bc bison flex cpio kmod xz-utils ccache
	libssl-dev libelf-dev zlib1g-dev dwarves
	linux-source-6.12
	clang llvm libbpf-dev bpftool bpftrace libjansson-dev
	libclang-rt-14-dev
	qemu-system-x86 busybox-static
	python3 python3-pytest python3-pytest-timeout python3-ply python3-git
	prometheus prometheus-node-exporter
	dpkg-dev lintian man-db
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "hint: run as root, or: apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "  APT     ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
