"""The container image, built by `make image` and run as an operator would: the examples
pass against it with two workers, as a user other than root, without a compiler, healthy
on the port it was given; SIGTERM stops it with exit code 0 in under 15 s, every decided
confirmation on the mounted state volume and nothing personal in its JSON logs.

Needs podman (or docker): skipped where neither is installed, unless
ONSHI_REQUIRE_CONTAINER=1 (set by .ci/run, which installs podman), then failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.processes import (
    assert_examples_pass,
    confirm,
    disclosed,
    free_port,
    logged_request_ids,
    personal_values,
    ready,
    wait_all_started,
    wait_until,
)

IMAGE = os.environ.get("ONSHI_TEST_IMAGE", "localhost/onshi:latest")
USER_ID = 10001  # the Dockerfile's USER
ENGINE = shutil.which("podman") or shutil.which("docker")

# The first test also waits for the image build: minutes on a machine that has no base yet.
pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(1500)]


def engine(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert ENGINE is not None
    result = subprocess.run([ENGINE, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def image() -> str:
    if ENGINE is None:
        if os.environ.get("ONSHI_REQUIRE_CONTAINER"):
            pytest.fail("ONSHI_REQUIRE_CONTAINER is set and neither podman nor docker is installed")
        pytest.skip("neither podman nor docker is installed")
    started = time.monotonic()
    build = subprocess.run(
        ["deploy/image.sh"], cwd=ROOT, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "IMAGE": IMAGE},
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    print(f"make image: {time.monotonic() - started:.0f} s")
    return IMAGE


@dataclass
class Container:
    name: str
    url: str
    state: Path
    decided: int = 0  # confirmations and batch items the tests had decided by it


# check.py --batch sends every good case alone and again as a batch item: each is decided twice.
DECIDED_PER_CHECK = 2 * len(json.loads((EXAMPLES / "cases.json").read_text(encoding="utf-8"))["cases"])


@pytest.fixture(scope="module")
def container(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    state = tmp_path_factory.mktemp("state")
    os.chown(state, USER_ID, USER_ID) if os.geteuid() == 0 else state.chmod(0o777)
    port = free_port()
    name = f"onshi-test-{uuid.uuid4().hex[:8]}"
    engine(
        "run", "--detach", "--name", name, "--network", "host",
        "--env", f"ONSHI_PORT={port}",
        "--volume", f"{EXAMPLES / 'data'}:/data:ro",
        "--volume", f"{state}:/var/lib/onshi",
        image, "serve", "--data", "/data", "--workers", "2",
    )  # fmt: skip
    running = Container(name, f"http://127.0.0.1:{port}", state)
    try:
        wait_until(lambda: ready(running.url), 60, "the container is ready")
        wait_all_started(lambda: engine("logs", name).stderr, 2)
        yield running
    finally:
        engine("rm", "--force", name, check=False)


def test_the_examples_pass(container: Container) -> None:
    assert_examples_pass(container.url)
    container.decided += DECIDED_PER_CHECK


def test_it_runs_as_a_user_other_than_root_without_a_compiler(container: Container) -> None:
    assert engine("exec", container.name, "id", "-u").stdout.strip() == str(USER_ID)
    compilers = engine(
        "exec", container.name, "sh", "-c",
        "for c in gcc cc c89 c99 clang x86_64-linux-gnu-gcc-12 cython; do command -v $c; done; "
        # Onshi's own sources beyond its modules, headers, a build tree, a repository
        "find / -xdev \\( -name Python.h -o -name .git -o -path /src -o -name tests -o -name bench \\)"
        " -print; cd /opt/onshi/lib/python3.11/site-packages;"
        " find core_ext service \\( -name '*.c' -o -name '*.pyx' -o -name '*.pxd' \\) -print",
        check=False,
    )  # fmt: skip
    assert compilers.stdout.strip() == ""


def test_the_healthcheck_follows_onshi_port(container: Container) -> None:
    if ENGINE is not None and ENGINE.endswith("docker"):
        pytest.skip("docker runs the healthcheck itself")
    assert engine("healthcheck", "run", container.name).returncode == 0


def test_installed_packages_stay_small(container: Container) -> None:
    kib = engine("exec", container.name, "du", "-sk", "/opt/onshi").stdout.split()[0]
    size = int(engine("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    print(f"/opt/onshi: {int(kib) / 1024:.1f} MiB; image: {size / 1e6:.1f} MB")
    assert int(kib) < 80 * 1024  # the goal for what Onshi installs


def test_sigterm_stops_it_cleanly_with_every_confirmation_recorded(container: Container) -> None:
    ids = [f"container-{i}" for i in range(50)]
    for rid in ids:
        assert confirm(container.url, rid)[0] == 200
    container.decided += len(ids)
    started = time.monotonic()
    engine("kill", "--signal", "TERM", container.name)
    exit_code = engine("wait", container.name, timeout=30).stdout.strip()
    took = time.monotonic() - started
    print(f"stopped in {took:.2f} s, exit code {exit_code}")
    assert exit_code == "0" and took < 15
    assert logged_request_ids(container.state / "access-log.csv") >= set(ids)
    records = (container.state / "access-log.csv").read_text(encoding="utf-8").splitlines()
    assert len(records) == container.decided  # every decided confirmation, each once
    logs = engine("logs", container.name)
    lines = (logs.stdout + logs.stderr).splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # ONSHI_LOG_FORMAT=json in the image
    assert entries and all({"ts", "level", "logger", "msg", "pid"} <= set(e) for e in entries)
    assert disclosed("\n".join(lines), personal_values()) == set()
