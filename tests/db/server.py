"""A real `onshi serve --database-url` process for end-to-end database tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.db.conftest import ADMIN_TOKEN
from tests.processes import ONSHI, free_port

CLINIC = {"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}


class Server:
    def __init__(self, database_url: str, state_dir: Path, *args: str, **env: str) -> None:
        """`args`: more `onshi serve` arguments (`--snapshot FILE`, `--workers N`)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state_dir / "serve.log"
        state_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "ONSHI_ADMIN_TOKEN": ADMIN_TOKEN,
            "ONSHI_STATE_DIR": str(state_dir),
            **env,
        }
        self.args = [str(ONSHI), "serve", "--database-url", database_url, "--port", str(self.port), *args]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_within: float = 60) -> Server:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if self.get("/v1/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become ready:\n" + self.log())

    def stop(self, sig: int = signal.SIGTERM, within: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(within)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return self.request("GET", path, None, headers)

    def confirm(self, body: dict[str, Any], request_id: str | None = None) -> tuple[int, Any]:
        headers = dict(CLINIC)
        if request_id:
            headers["X-Request-ID"] = request_id
        return self.request("POST", "/v1/confirmations", {"institution_code": "2710000019", **body}, headers)

    def upsert(self, body: dict[str, Any], timeout: float = 10) -> tuple[int, Any]:
        return self.request("POST", "/v1/admin/upserts", body, ADMIN, timeout)
