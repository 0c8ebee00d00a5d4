#!/bin/sh
# make image: build localhost/onshi:latest (IMAGE) from the Dockerfile with podman, or docker
# where podman is absent. BASE_IMAGE (default python:3.11-slim-bookworm) is pulled; when it
# cannot be, a stand-in is built from Debian packages once (deploy/standin-base.sh) and used.
set -eu
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-localhost/onshi:latest}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
STANDIN=${STANDIN_IMAGE:-localhost/onshi-base:bookworm}
PULL_TIMEOUT=${PULL_TIMEOUT:-60}

if command -v podman >/dev/null; then
    ENGINE=podman
elif command -v docker >/dev/null; then
    ENGINE=docker
else
    echo "make image: neither podman nor docker is installed" >&2
    exit 2
fi

have_image() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

if ! have_image "$BASE_IMAGE"; then
    if ! timeout "$PULL_TIMEOUT" "$ENGINE" pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
        echo "make image: cannot pull $BASE_IMAGE; building on $STANDIN (Debian packages)" >&2
        have_image "$STANDIN" || ENGINE=$ENGINE sh deploy/standin-base.sh "$STANDIN"
        BASE_IMAGE=$STANDIN
    fi
fi

# pip inside the build needs this machine's CA bundle and pip configuration (an index mirror, a
# proxy's CA): mounted read-only for the build's RUN steps, never copied into a layer.
set --
if [ "$ENGINE" = podman ]; then
    set -- --format docker  # keeps HEALTHCHECK (the OCI format has no such field)
    for path in /etc/ssl/certs /etc/pip.conf /etc/xdg/pip; do
        if [ -e "$path" ]; then set -- "$@" --volume "$path:$path:ro"; fi
    done
fi
started=$(date +%s)
"$ENGINE" build "$@" --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$IMAGE" .
echo "make image: built $IMAGE on $BASE_IMAGE in $(( $(date +%s) - started )) s"
