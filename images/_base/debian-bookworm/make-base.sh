#!/bin/sh
# Make a Debian base image that images/*/Dockerfile start FROM: bookworm (most images), or
# another suite such as bullseye (images/_base/debian-bullseye/make-base.sh calls this script).
#
#   images/_base/debian-bookworm/make-base.sh [TAG]      (default TAG: debian:bookworm-slim)
#
# The suite is read from TAG: debian:SUITE-slim or debian:SUITE (SUITE=... overrides it).
# 1. If TAG is already in the local engine, do nothing.
# 2. Try to pull it from the registry.
# 3. If the registry cannot be reached, build a minimal Debian root file system with
#    debootstrap from the Debian archive (apt's mirror) and import it under TAG.
#
# Needs root (debootstrap) and the debootstrap package for step 3. MIRROR= overrides the mirror.
# provides: debian:bookworm-slim
set -eu

TAG="${1:-debian:bookworm-slim}"
if [ -z "${SUITE:-}" ]; then
    SUITE="${TAG##*:}"
    SUITE="${SUITE%-slim}"
fi
case "$SUITE" in
    ""|*[!a-z]*) echo "error: cannot read a Debian suite from '$TAG' (want debian:SUITE-slim," \
                      "e.g. debian:bullseye-slim; or set SUITE=)" >&2; exit 2 ;;
esac
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG is already present"
    exit 0
fi

echo "pulling $TAG ..."
if timeout 120 docker pull "$TAG"; then
    exit 0
fi

echo "pull failed: making $TAG locally with debootstrap ($SUITE from $MIRROR)"
if [ "$(id -u)" != 0 ]; then
    echo "error: debootstrap needs root; run: sudo $0 $TAG" >&2
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "error: debootstrap is not installed; run: apt-get install -y debootstrap" >&2
    exit 1
fi

ROOTFS="$(mktemp -d /tmp/dlbench-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR"

# Trim it the way the -slim images are trimmed: no apt lists, no caches, no docs.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/tmp/* "$ROOTFS"/var/log/*.log
# Point apt at the same mirror, with updates and security, like the official image.
cat > "$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES
# apt in containers: no recommends, no docs.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > "$ROOTFS/etc/apt/apt.conf.d/90dlbench-slim"

tar -C "$ROOTFS" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV LANG=C.UTF-8' \
    --message "debootstrap --variant=minbase $SUITE $MIRROR (dlbench images/_base/debian-$SUITE)" \
    - "$TAG"
echo "made $TAG"
