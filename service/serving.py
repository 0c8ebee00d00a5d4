"""Running uvicorn so that a stop loses nothing: one process, or a supervisor of workers.

A stop (SIGTERM, or SIGINT from a terminal) goes in three steps, in every mode:

1. `/v1/readyz` answers 503 at once, so a load balancer stops sending new work;
2. confirmations keep being answered for `drain_seconds` (0 by default; behind Kubernetes
   a preStop sleep does the same job before the signal);
3. the listener closes, requests already read finish within `shutdown_timeout` seconds
   (then they are cancelled), the lifespan flushes the access log, and the process
   exits 0.

A second signal (a second or more after the first) cuts the drain short; a SIGINT after
that stops at once, as uvicorn does.  uvicorn's own `Server` re-raises the signal once it
has shut down (the process then dies by SIGTERM, exit code 143 in a container), its
`Multiprocess` supervisor builds plain `Server`s in the workers and keeps the listening
socket open until they have all gone (connections then queue for nobody); all three are
replaced here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from socket import socket
from types import FrameType
from typing import Any

import uvicorn
from uvicorn._subprocess import get_subprocess
from uvicorn.config import STARTUP_FAILURE

from service.slowclients import ClientLimits

log = logging.getLogger("onshi.serving")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WATCH_SECONDS = 0.5  # how often the supervisor looks at its workers
# A signal this soon after the first is the same stop delivered twice (a terminal's Ctrl-C
# reaches the whole process group, and the supervisor passes it on as well): not a second stop.
REPEAT_SECONDS = 1.0


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before the listener closes and exit code 0 after a stop."""

    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.drain_until: float | None = None
        self.stop_signalled_at = 0.0
        self.notes: list[str] = []  # what the signal handler has to say, logged from the loop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # The signal is not recorded in _captured_signals: uvicorn would raise it again once
        # shut down, and the process would die by it instead of exiting 0. Nothing is logged
        # here: a handler that writes to stderr while the interrupted code is writing there
        # fails ("reentrant call"); the notes are logged from the event loop instead.
        now = time.monotonic()
        name = signal.Signals(sig).name
        if self.drain_until is None:
            self.stop_signalled_at = now
            self.drain_until = now + self.drain_seconds
            _begin_stopping(self.config)
            self.notes.append(
                f"{name}: not ready any more; answering for {self.drain_seconds:.1f} s more, "
                "then closing the listener"
            )
            if self.drain_seconds <= 0:
                self.should_exit = True
        elif now - self.stop_signalled_at < REPEAT_SECONDS:
            pass
        elif not self.should_exit:
            self.notes.append(f"{name} again: drain cut short")
            self.should_exit = True
        elif sig == signal.SIGINT:
            self.force_exit = True

    def _log_notes(self) -> None:
        while self.notes:
            log.info(self.notes.pop(0))

    async def on_tick(self, counter: int) -> bool:
        self._log_notes()
        if self.drain_until is not None and not self.should_exit and time.monotonic() >= self.drain_until:
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket] | None = None) -> None:
        self._log_notes()
        await super().shutdown(sockets)

    def run_worker(self, sockets: list[socket]) -> None:
        """A supervised worker: exits STARTUP_FAILURE when the application did not start."""
        self.run(sockets)
        if not self.started:
            raise SystemExit(STARTUP_FAILURE)


class ServerConfig(uvicorn.Config):
    """uvicorn's config with the limits on clients (service.slowclients) that its protocol
    reads; a worker process gets them with the rest of the config."""

    def __init__(self, app: Any, *, client_limits: ClientLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.client_limits = client_limits


def _begin_stopping(config: uvicorn.Config) -> None:
    """Tell the application (service.hotpath.HotPath) that readiness is over."""
    app: Any = getattr(config, "loaded_app", None)
    while app is not None and not hasattr(app, "begin_stopping"):
        app = getattr(app, "app", None)  # through any middleware uvicorn wrapped around it
    if app is not None:
        app.begin_stopping()


def serve_one(config: uvicorn.Config, drain_seconds: float) -> int:
    """One process: the exit code (0 after a stop, 3 when the application failed to start)."""
    server = DrainingServer(config, drain_seconds)
    server.run()
    return 0 if server.started else STARTUP_FAILURE


class Supervisor:
    """`workers` DrainingServer processes on one listening socket.

    Stop signals and SIGHUP (reload the data in place) are passed to every worker; a worker
    that dies unexpectedly is replaced, unless it died before starting (then nothing would
    start: everything stops). `run` returns 0 once every worker has exited 0.
    """

    def __init__(self, config: uvicorn.Config, workers: int, drain_seconds: float) -> None:
        self.config = config
        self.workers = workers
        self.drain_seconds = drain_seconds
        self.processes: list[Any] = []
        self.stopping = False
        self.failed = False
        self.signals: list[int] = []
        self.wake = threading.Event()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.signals.append(sig)
        self.wake.set()

    def _spawn(self, sockets: list[socket]) -> Any:
        server = DrainingServer(self.config, self.drain_seconds)
        process = get_subprocess(self.config, target=server.run_worker, sockets=sockets)
        process.start()
        return process

    def run(self) -> int:
        sockets = [self.config.bind_socket()]
        for sig in (*STOP_SIGNALS, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        log.info("supervisor %d: starting %d workers", os.getpid(), self.workers)
        self.processes = [self._spawn(sockets) for _ in range(self.workers)]
        while self.processes:
            self.wake.wait(WATCH_SECONDS)
            self.wake.clear()
            self._pass_signals()
            if self.stopping:
                # The workers hold their own copies: once they close theirs after the drain,
                # the port refuses connections instead of queueing them for nobody to accept.
                for sock in sockets:
                    sock.close()
            self._watch(sockets)
        log.info("supervisor %d: every worker has stopped", os.getpid())
        return 1 if self.failed else 0

    def _pass_signals(self) -> None:
        while self.signals:
            sig = self.signals.pop(0)
            if sig in STOP_SIGNALS:
                self.stopping = True
            log.info("supervisor %d: %s, passed to every worker", os.getpid(), signal.Signals(sig).name)
            for process in self.processes:
                # A worker may exit between the check and the kill: nothing to tell it then.
                with contextlib.suppress(ProcessLookupError):
                    if process.is_alive():
                        os.kill(process.pid, sig)

    def _watch(self, sockets: list[socket]) -> None:
        running = []
        for process in self.processes:
            if process.is_alive():
                running.append(process)
                continue
            process.join()
            if self.stopping:
                # A worker still starting dies of the signal itself (its handlers come just
                # before it starts serving): it had accepted nothing, so that is clean too.
                self.failed |= process.exitcode not in (0, *(-sig for sig in STOP_SIGNALS))
            elif process.exitcode == STARTUP_FAILURE:
                log.error("worker %d failed to start: stopping every worker", process.pid)
                self.failed = True
                self._on_signal(signal.SIGTERM, None)
            else:
                log.error("worker %d died (exit code %s): starting another", process.pid, process.exitcode)
                running.append(self._spawn(sockets))
        self.processes = running
