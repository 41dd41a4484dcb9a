#!/usr/bin/env bash
# Builds the Debian package of ulvs with dpkg-deb: ulvsd, ulvsadm, ulvslab,
# ulvs-genhash, ulvs-alternatives, the systemd unit, /etc/default/ulvsd (a
# conffile), the manual pages (rendered from the commands' own flag
# definitions by their TestManPage), the docs, a Grafana dashboard and
# Prometheus alert rules.
#
#   scripts/deb.sh [OUTDIR]     (default build/); prints the .deb's path
#
# VERSION (default 0.1.0) is the package's version, a native one.
# SOURCE_DATE_EPOCH (default: the last commit's time) dates the pages and
# the changelog and clamps the files' times, so a rebuild is identical.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
version=${VERSION:-0.1.0}
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null)}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
pkg=$out/ulvs_${version}_${arch}
rm -rf "$pkg" "$out/man"
mkdir -p "$pkg/DEBIAN"

# Binaries: static, stripped, without build paths.
ldflags="-s -w -X main.version=$version"
for c in ulvsd:usr/sbin/ulvsd ulvsadm:usr/sbin/ulvsadm ulvslab:usr/sbin/ulvslab genhash:usr/bin/ulvs-genhash; do
  CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$pkg/${c#*:}" "./cmd/${c%%:*}"
done
install -D -m 0755 packaging/ulvs-alternatives "$pkg/usr/sbin/ulvs-alternatives"

# Manual pages: each command's TestManPage writes its page from its flags.
ULVS_MAN_DIR=$out/man ULVS_VERSION=$version go test -count=1 -run '^TestManPage$' ./cmd/... >/dev/null
install -D -m 0644 packaging/ulvs-alternatives.8 "$out/man/man8/ulvs-alternatives.8"
for page in "$out"/man/man*/*; do
  sec=$(basename "$(dirname "$page")")
  install -d "$pkg/usr/share/man/$sec"
  gzip -9n < "$page" > "$pkg/usr/share/man/$sec/$(basename "$page").gz"
done

# The service.
install -d "$pkg/lib/systemd/system"
sed 's#@SBINDIR@#/usr/sbin#g; s#file:///usr/local/share/doc/ulvs/README.md#man:ulvsd(8) file:///usr/share/doc/ulvs/README.md.gz#' \
  packaging/ulvsd.service > "$pkg/lib/systemd/system/ulvsd.service"
chmod 0644 "$pkg/lib/systemd/system/ulvsd.service"
install -D -m 0644 packaging/ulvsd.default "$pkg/etc/default/ulvsd"

# Documentation and examples.
doc=$pkg/usr/share/doc/ulvs
install -d "$doc"
for f in README.md docs/*.md; do
  gzip -9n < "$f" > "$doc/$(basename "$f").gz"
done
for f in packaging/grafana/*.json packaging/prometheus/*.yml; do
  if [ -e "$f" ]; then install -D -m 0644 "$f" "$doc/examples/$(basename "$f")"; fi
done
# Go links statically, by design: lintian exempts Go programs only when it
# sees their source package's build dependencies, which a binary package
# built here does not carry.
install -d "$pkg/usr/share/lintian/overrides"
for b in usr/sbin/ulvsd usr/sbin/ulvsadm usr/sbin/ulvslab usr/bin/ulvs-genhash; do
  echo "ulvs: statically-linked-binary [$b]"
done > "$pkg/usr/share/lintian/overrides/ulvs"
chmod 0644 "$pkg/usr/share/lintian/overrides/ulvs"
go run packaging/deb/copyright.go "$pkg/usr/sbin/ulvsd" "$pkg/usr/sbin/ulvsadm" "$pkg/usr/sbin/ulvslab" "$pkg/usr/bin/ulvs-genhash" > "$doc/copyright"
chmod 0644 "$doc/copyright"
{
  echo "ulvs ($version) unstable; urgency=medium"
  echo
  echo "  * Built from the ulvs repository at commit $commit."
  echo
  echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.gz"

# Control files.
for f in postinst prerm postrm; do
  install -m 0755 "packaging/deb/$f" "$pkg/DEBIAN/$f"
done
install -m 0644 packaging/deb/conffiles "$pkg/DEBIAN/conffiles"
size=$(du -k -s --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s#@VERSION@#$version#" -e "s#@ARCH@#$arch#" -e "s#@MAINTAINER@#$maintainer#" -e "s#@SIZE@#$size#" \
  packaging/deb/control.in > "$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"

find "$pkg" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
deb=$out/ulvs_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
