#!/bin/sh
# Build the hintstat Debian package from a staged tree with plain
# dpkg-deb (no debhelper):
#
#   packaging/mkdeb.sh BINARY OUTDIR    writes OUTDIR/hintstat_V-1_ARCH.deb
#
# V is what BINARY --version says; packaging/changelog must have an entry
# for V-1. Rules (fleet/rules/*.yml, not the *.test.yml promtool tests)
# and dashboards (fleet/grafana/*.json) go in when they exist.
set -eu
umask 022

top=$(cd "$(dirname "$0")/.." && pwd)
pkg=$top/packaging
bin=$1
out=$2

ver=$("$bin" --version | sed -n 's/^hintstat //p')
[ -n "$ver" ] || { echo "mkdeb: no version from $bin --version" >&2; exit 1; }
ver=$ver-1
clver=$(dpkg-parsechangelog -l "$pkg/changelog" -SVersion)
if [ "$clver" != "$ver" ]; then
	echo "mkdeb: packaging/changelog is at $clver, the binary at $ver" >&2
	echo "hint: add a packaging/changelog entry for $ver" >&2
	exit 1
fi
arch=$(dpkg --print-architecture)
# Reproducible: every mtime and the ar header from the changelog's date.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$pkg/changelog" -STimestamp)
export SOURCE_DATE_EPOCH

root=$out/root
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/sbin" "$root/usr/share/man/man8" \
	"$root/usr/share/hintstat/bpftrace" "$root/usr/share/doc/hintstat" \
	"$root/usr/lib/systemd/system" "$root/etc/default" \
	"$root/usr/share/lintian/overrides"

# /usr/sbin: an administrator's tool that needs root's capabilities (man
# section 8), as bpftool and perf's sbin tools are.
install -m 0755 "$bin" "$root/usr/sbin/hintstat"
strip --remove-section=.comment --remove-section=.note "$root/usr/sbin/hintstat"
gzip -9n < "$top/tools/hintstat/hintstat.8" > "$root/usr/share/man/man8/hintstat.8.gz"
install -m 0755 "$top"/tools/bpftrace/*.bt "$root/usr/share/hintstat/bpftrace/"
for f in "$top"/fleet/rules/*.yml; do
	case $f in *.test.yml|*'*'*) continue ;; esac
	install -D -m 0644 "$f" "$root/usr/share/hintstat/rules/${f##*/}"
done
for f in "$top"/fleet/grafana/*.json; do
	[ -e "$f" ] || continue
	install -D -m 0644 "$f" "$root/usr/share/hintstat/grafana/${f##*/}"
done
install -m 0644 "$pkg"/hintstat-exporter.service "$pkg"/hintstat-host-exporter.service \
	"$root/usr/lib/systemd/system/"
install -m 0644 "$pkg/hintstat.default" "$root/etc/default/hintstat"
install -m 0644 "$pkg/copyright" "$root/usr/share/doc/hintstat/copyright"
gzip -9n < "$pkg/changelog" > "$root/usr/share/doc/hintstat/changelog.Debian.gz"
install -m 0644 "$pkg/lintian-overrides" "$root/usr/share/lintian/overrides/hintstat"

install -m 0644 "$pkg/conffiles" "$root/DEBIAN/"
install -m 0755 "$pkg/postinst" "$pkg/prerm" "$pkg/postrm" "$root/DEBIAN/"
(cd "$root" && find . -type f ! -path ./DEBIAN/\* ! -path ./etc/\* | sed 's|^\./||' |
	LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

# Static: the source packages of what is linked in (Debian policy 7.8).
built_using=$(dpkg-query -W -f='${source:Package} (= ${source:Version}), ' \
	libc6-dev libbpf-dev libelf-dev zlib1g-dev libjansson-dev | sed 's/, $//')
size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$ver/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@BUILT_USING@/$built_using/" "$pkg/control" > "$root/DEBIAN/control"

deb=$out/hintstat_${ver}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "  DEB     $deb"

# No lintian error (packaging/lintian-overrides says why each override);
# its warnings are shown. Its note about running as root is not.
out=$(lintian --fail-on error "$deb" 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
printf '%s\n' "$out" | grep -v 'running with root privileges' || :
