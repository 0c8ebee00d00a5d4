# Onshi's container image (docs/operations.md). Two stages on one base: the builder compiles the
# Cython core into a wheel and installs it with the locked dependencies into /opt/onshi; the
# runtime stage copies only that environment. `make image` builds it with podman, on a stand-in
# base made from Debian packages where the registry cannot be reached (deploy/image.sh).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A C compiler for the Cython core, and Python's headers where the base lacks them (Debian's
# python3.11 has none; the python images have theirs under /usr/local/include).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && if [ ! -f "$(python3.11 -c 'import sysconfig; print(sysconfig.get_path("include"))')/Python.h" ]; then \
        apt-get install -y --no-install-recommends python3.11-dev; \
    fi \
 && rm -rf /var/lib/apt/lists/*
# /opt/build holds the build tools; /opt/onshi, the runtime environment, gets no pip at all.
RUN python3.11 -m venv /opt/build && python3.11 -m venv --without-pip /opt/onshi
WORKDIR /src
COPY requirements.lock requirements-build.lock ./
RUN /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
 && /opt/build/bin/pip --python /opt/onshi/bin/python install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY migrations migrations
COPY core_ext core_ext
COPY service service
RUN /opt/build/bin/pip wheel --no-build-isolation --no-deps --wheel-dir /wheels . \
 && /opt/build/bin/pip --python /opt/onshi/bin/python install --no-deps /wheels/onshi-*.whl \
 && find /opt/onshi -name '*.so' -exec strip --strip-unneeded {} +

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 onshi \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/onshi --shell /usr/sbin/nologin onshi \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/onshi
COPY --from=builder /opt/onshi /opt/onshi
ENV PATH=/opt/onshi/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    ONSHI_HOST=0.0.0.0 \
    ONSHI_PORT=8000 \
    ONSHI_STATE_DIR=/var/lib/onshi \
    ONSHI_LOG_FORMAT=json
VOLUME /var/lib/onshi
WORKDIR /var/lib/onshi
USER 10001:10001
EXPOSE 8000
# Liveness on whatever ONSHI_PORT the container was given, with the standard library only.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('ONSHI_PORT', '8000')}/v1/healthz\", timeout=2)"]
# tini as PID 1 passes SIGTERM to onshi and reaps; onshi drains and exits 0 (docs/operations.md).
ENTRYPOINT ["/usr/bin/tini", "--", "onshi"]
CMD ["serve", "--demo"]
