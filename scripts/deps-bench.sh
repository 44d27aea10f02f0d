#!/bin/bash
# The bench's extra Debian packages (the dashboard is checked in headless
# Chromium), only when missing.
set -euo pipefail
pkgs=(chromium)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps-bench.sh: missing packages: ${missing[*]}" >&2
	echo "hint: run as root, or: apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "  APT     ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
