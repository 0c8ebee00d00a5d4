"""The folder bridge: a reception system's req/res folders, answered by an Onshi server.

`onshi oqs-bridge --dir DIR --url URL` (the API key from ONSHI_API_KEY) watches `DIR/req`
for the national request files, sends each to `URL/v1/oqs/<message>` as it is (bytes and
encoding untouched), and writes the answer to `DIR/res` under the same name with `req_`
turned into `res_`, through a temporary file and a rename, so a reader never sees half an
answer.  A file is read only once it is complete: its size and modification time the same
across two looks (a writer that writes then renames is seen complete at once; names
starting with `.` or ending in `.tmp` are someone's temporary files and skipped).

What happens to a request:

- answered (HTTP 2xx): the answer is written and the request removed, as the national
  連携アプリ does;
- refused by the server (4xx but 429): its answer (SegmentOfResult 9, the reason) is
  written and the request moved aside to `DIR/req_failed/`;
- unreadable here (permissions, vanished): an answer with SegmentOfResult 9 is written by
  the bridge and the request, if it still exists, moved aside;
- the server busy or away (429, 5xx, no connection): tried again, spaced out, for
  `give_up` seconds (default 300); then answered with SegmentOfResult 9 and moved aside.
  Nothing is retried for ever and nothing is lost.

With `--face`, it also follows the institution's feed of card-path confirmations
(`GET /v1/confirmations/feed`) and writes each as `DIR/face/OQSsiquc01res_face_<id>.xml`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from service.oqs.messages import (
    BY_MY_NUMBER_CARD,
    CHARACTER_CODE,
    SEGMENT_DONE,
    SEGMENT_FAILED,
    execution_time_now,
    oqs_date,
    response_header,
    result_fields,
)
from service.oqs.xmltree import MessageError, Tree, declared_codec, render_xml

log = logging.getLogger("onshi.bridge")

REQUEST_NAME = re.compile(
    r"^(OQSsiquc01|OQSmuquc01|OQSmuquc02|OQSsiimm01|OQSmuimm01|OQSmuimm02)req_[^/]*\.xml$"
)
FAILED_FOLDER = "req_failed"
MAX_REQUEST = 64 * 1024 * 1024


@dataclass
class Pending:
    size: int
    mtime_ns: int
    first_try: float = 0.0
    next_try: float = 0.0
    tries: int = 0


@dataclass
class Bridge:
    folder: Path
    url: str
    api_key: str
    give_up: float = 300.0
    timeout: float = 30.0
    context: ssl.SSLContext | None = None
    seen: dict[str, Pending] = field(default_factory=dict)
    answered: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        for name in ("req", "res", FAILED_FOLDER):
            (self.folder / name).mkdir(parents=True, exist_ok=True)

    def run(self, interval: float = 0.2) -> None:
        """Look every `interval` seconds, for ever."""
        while True:
            self.look()
            time.sleep(interval)

    def look(self) -> None:
        """One look at req/: send each complete request whose time has come."""
        now = time.monotonic()
        present = set()
        for entry in sorted(os.scandir(self.folder / "req"), key=lambda e: e.name):
            name = entry.name
            if not entry.is_file() or not REQUEST_NAME.match(name):
                continue
            present.add(name)
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            known = self.seen.get(name)
            if known is None or (known.size, known.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                # First seen, or still growing: wait for a second look that finds it unchanged.
                self.seen[name] = Pending(stat.st_size, stat.st_mtime_ns)
                continue
            if known.next_try <= now:
                self._handle(name, known, now)
        for gone in set(self.seen) - present:
            del self.seen[gone]

    def _handle(self, name: str, pending: Pending, now: float) -> None:
        path = self.folder / "req" / name
        message = name.split("req_", 1)[0]
        try:
            with open(path, "rb") as source:
                raw = source.read(MAX_REQUEST + 1)
        except OSError as error:
            self._fail(name, b"", "UNREADABLE_FILE", f"要求ファイルを読めません（{error.strerror}）。")
            return
        if not raw:
            self._fail(name, raw, "MALFORMED_XML", "要求ファイルが空です。")
            return
        pending.first_try = pending.first_try or now
        pending.tries += 1
        status, answer, retry_after = self._send(message, raw)
        if status is not None and 200 <= status < 300:
            self._write_answer(name, answer)
            path.unlink(missing_ok=True)
            self.seen.pop(name, None)
            self.answered += 1
            return
        if status is not None and 400 <= status < 500 and status != 429 and answer:
            self._write_answer(name, answer)  # the server's own SegmentOfResult 9 and reason
            self._move_aside(name)
            self.failed += 1
            return
        if now - pending.first_try >= self.give_up:
            reason = f"HTTP {status}" if status is not None else "接続できません"
            self._fail(
                name,
                raw,
                "SERVER_UNAVAILABLE",
                f"資格確認サーバーが{int(self.give_up)}秒応答しませんでした（{reason}）。再度照会してください。",
            )
            return
        # Spaced out: Retry-After when given, else 1, 2, 4 … up to 30 seconds.
        delay = retry_after or min(30.0, 2.0 ** min(pending.tries - 1, 5))
        pending.next_try = now + delay
        log.warning("%s: server not answering (%s); again in %.0f s", message, status, delay)

    def _send(self, message: str, raw: bytes) -> tuple[int | None, bytes, float]:
        request = urllib.request.Request(
            f"{self.url}/v1/oqs/{message}",
            data=raw,
            method="POST",
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/xml"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return response.status, response.read(), 0.0
        except urllib.error.HTTPError as error:
            retry = error.headers.get("Retry-After", "")
            return error.code, error.read(), float(retry) if retry.isdigit() else 0.0
        except (OSError, urllib.error.URLError):
            return None, b"", 0.0

    def _fail(self, name: str, raw: bytes, code: str, reason: str) -> None:
        """Answer SegmentOfResult 9 from here, and move the request aside."""
        try:
            codec = declared_codec(raw)
        except MessageError:
            codec = "utf-8"
        header = response_header({}, codec, execution_time_now(), SEGMENT_FAILED, (code, reason))
        self._write_answer(name, render_xml({"MessageHeader": header}, codec))
        self._move_aside(name)
        self.failed += 1
        log.error("%s: answered with SegmentOfResult 9 (%s)", name.split("req_", 1)[0], code)

    def _write_answer(self, name: str, answer: bytes) -> None:
        _write_atomically(self.folder / "res" / name.replace("req_", "res_", 1), answer)

    def _move_aside(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.folder / "req" / name, self.folder / FAILED_FOLDER / name)
        self.seen.pop(name, None)


FACE_FOLDER = "face"
FACE_STATE = ".onshi-face-last-event-id"  # beside the folders, not in face/: it is no answer
FEED_TIMEOUT = 60.0  # the server sends a keep-alive every 15 s


def face_tree(answer: dict[str, Any], institution: str, executed_at: str) -> Tree:
    """The OQSsiquc01res a reader's card check gives in the national face folder."""
    qualification = answer.get("qualification") or {}
    header = {
        "ProcessExecutionTime": executed_at,
        "QualificationConfirmationDate": oqs_date(answer.get("confirmation_date")),
        "MedicalInstitutionCode": institution,
        "ReferenceClassification": BY_MY_NUMBER_CARD,
        "SegmentOfResult": SEGMENT_DONE,
    }
    return {"MessageHeader": header, "MessageBody": result_fields(answer, "limit_category" in qualification)}


def follow_face(bridge: Bridge, stop: threading.Event, codec: str = "cp932") -> None:
    """Write each card-path answer of the feed into DIR/face, resuming after the last one written."""
    face = bridge.folder / FACE_FOLDER
    face.mkdir(parents=True, exist_ok=True)
    state = bridge.folder / FACE_STATE
    backoff = 1.0
    while not stop.is_set():
        last = state.read_text().strip() if state.exists() else ""
        headers = {"Authorization": f"Bearer {bridge.api_key}", "Accept": "text/event-stream"}
        if last:
            headers["Last-Event-ID"] = last
        request = urllib.request.Request(f"{bridge.url}/v1/confirmations/feed", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=FEED_TIMEOUT, context=bridge.context) as response:
                backoff = 1.0
                institution = response.headers.get("x-onshi-institution", "")
                for event_id, data in _events(response, stop):
                    tree = face_tree(orjson.loads(data), institution, execution_time_now())
                    tree["MessageHeader"]["CharacterCodeIdentifier"] = CHARACTER_CODE[codec]
                    name = f"OQSsiquc01res_face_{event_id}.xml"
                    _write_atomically(face / name, render_xml(tree, codec))
                    _write_atomically(state, event_id.encode())
        except (OSError, urllib.error.URLError, ValueError) as error:
            log.warning("feed: %s; again in %.0f s", type(error).__name__, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)


def _events(response: Any, stop: threading.Event) -> Iterator[tuple[str, bytes]]:
    """(id, data) of each server-sent event of a response, until it ends or `stop` is set."""
    event_id, data = "", list[bytes]()
    for raw in response:
        if stop.is_set():
            return
        line = raw.rstrip(b"\r\n")
        if not line:
            if data and event_id:
                yield event_id, b"\n".join(data)
            event_id, data = "", []
            continue
        if line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if name == b"id":
            event_id = value.decode("ascii", "replace")
        elif name == b"data":
            data.append(value)


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def bridge_command(
    folder: str, url: str, interval: float, give_up: float, cafile: str | None, face: bool, face_encoding: str
) -> int:
    """`onshi oqs-bridge`: runs until stopped."""
    api_key = os.environ.get("ONSHI_API_KEY", "")
    if not api_key:
        log.error("onshi oqs-bridge: set ONSHI_API_KEY to the institution's API key")
        return 2
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    bridge = Bridge(Path(folder), url.rstrip("/"), api_key, give_up=give_up, context=context)
    log.info("bridge: watching %s/req, answering into %s/res", folder, folder)
    stop = threading.Event()
    if face:
        codec = "utf-8" if face_encoding.lower().replace("-", "") == "utf8" else "cp932"
        threading.Thread(target=follow_face, args=(bridge, stop, codec), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        bridge.run(interval)
    stop.set()
    return 0
