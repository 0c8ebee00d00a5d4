#!/bin/sh
# Build a stand-in for python:3.11-slim-bookworm from Debian packages, for machines that
# cannot pull from a registry: debootstrap (minbase) of bookworm with Python 3.11, its venv
# module and the CA bundle, upgraded from bookworm-security, imported as IMAGE.
# Needs root and debootstrap; about 100 MB, built once and reused.
set -eu
IMAGE=${1:-localhost/onshi-base:bookworm}
ENGINE=${ENGINE:-podman}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

root=$(mktemp -d /var/tmp/onshi-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
# Python is installed by apt inside the tree: debootstrap's own resolver fails on python3.11-venv.
debootstrap --variant=minbase bookworm "$root" "$MIRROR"
cat >"$root/etc/apt/sources.list" <<LIST
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
LIST
chroot "$root" apt-get -q update
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -q -y upgrade
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -q -y install --no-install-recommends \
    python3.11 python3.11-venv ca-certificates
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" --numeric-owner -c . | "$ENGINE" import \
    --change 'CMD ["python3.11"]' --change 'ENV LANG=C.UTF-8' - "$IMAGE"
