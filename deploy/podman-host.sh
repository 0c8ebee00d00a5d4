#!/bin/sh
# Make this machine able to build and run the image with podman (CI and a fresh sandbox; root):
# install podman, buildah, runc and debootstrap from Debian when missing, and set the three
# containers.conf settings such machines need (no systemd, no cgroup delegation, low hard
# limits). Idempotent. A workstation with a working podman or docker does not need it.
set -eu
missing=
for tool in podman:podman buildah:buildah runc:runc debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing \
        uidmap fuse-overlayfs containernetworking-plugins
fi
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
if ! grep -q '^# onshi: podman-host.sh' "$conf" 2>/dev/null; then
    cat >>"$conf" <<'CONF'
# onshi: podman-host.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
