"""The `onshi` command line (CONTRACT.md §1)."""

from __future__ import annotations

import argparse
import gc
import logging
import logging.config
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from service.dataset import DataSetError
from service.logs import logging_config
from service.settings import LogSettings, Settings

T = TypeVar("T")
APP_FACTORY = "service.app:app_factory"  # what worker processes import to build their app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onshi", description="Onshi eligibility service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve confirmations over HTTP")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--data", metavar="DIR", help="serve the CSV data set in DIR (read-only)")
    source.add_argument("--demo", action="store_true", help="serve a generated demo population")
    source.add_argument("--snapshot", metavar="FILE", help="serve a snapshot file")
    serve.add_argument(
        "--database-url",
        metavar="URL",
        help="serve from PostgreSQL; with --snapshot, follow its changes from the file's",
    )
    serve.add_argument(
        "--database-read-url",
        metavar="URL",
        help="a standby of --database-url for the follower's reads (env ONSHI_DATABASE_READ_URL)",
    )
    serve.add_argument("--host", help="listen address (default 127.0.0.1, env ONSHI_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default 8000, env ONSHI_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate chain")
    serve.add_argument("--ssl-keyfile", metavar="PEM", help="the certificate's private key")
    serve.add_argument(
        "--ssl-ca-certs", metavar="PEM", help="the CA of client certificates (with ONSHI_CLIENT_CERT)"
    )
    migrate = commands.add_parser("migrate", help="apply migrations/ to PostgreSQL")
    migrate.add_argument("--database-url", metavar="URL", help="PostgreSQL (env ONSHI_DATABASE_URL)")
    load = commands.add_parser("import", help="validate a CSV data set and load it into PostgreSQL")
    load.add_argument("dir", metavar="DIR")
    load.add_argument("--database-url", metavar="URL", help="PostgreSQL (env ONSHI_DATABASE_URL)")
    synth = commands.add_parser("synth", help="write a synthetic nationwide data set (CSV)")
    synth.add_argument("--members", type=int, required=True, metavar="N", help="about N persons")
    synth.add_argument("--out", required=True, metavar="DIR")
    synth.add_argument("--seed", type=int, default=1, metavar="S")
    synth.add_argument(
        "--as-of",
        default="2026-11-01",
        metavar="YYYY-MM-DD",
        help="the population's today (default 2026-11-01)",
    )
    snapshot = commands.add_parser("snapshot", help="snapshot files")
    snapshot_commands = snapshot.add_subparsers(dest="snapshot_command", required=True)
    build = snapshot_commands.add_parser("build", help="write the whole indexed snapshot to one file")
    build_source = build.add_mutually_exclusive_group(required=True)
    build_source.add_argument("--data", metavar="DIR", help="a CSV data set")
    build_source.add_argument("--database-url", metavar="URL", help="PostgreSQL")
    build.add_argument("--out", required=True, metavar="FILE")
    fetch = snapshot_commands.add_parser(
        "fetch", help="copy the newest published *.snap of a folder over a local file, checked first"
    )
    fetch.add_argument("--from", dest="folder", required=True, metavar="DIR")
    fetch.add_argument("--to", dest="dest", required=True, metavar="FILE")
    fetch.add_argument("--every", type=float, metavar="SECONDS", help="keep fetching newer files")
    bridge = commands.add_parser(
        "oqs-bridge", help="answer a reception system's OQS req/ folder into res/ through a server"
    )
    bridge.add_argument("--dir", required=True, metavar="DIR", help="the folder holding req/ and res/")
    bridge.add_argument(
        "--url", required=True, metavar="URL", help="the Onshi server, e.g. http://127.0.0.1:8000"
    )
    bridge.add_argument(
        "--interval", type=float, default=0.2, metavar="SECONDS", help="between looks at req/"
    )
    bridge.add_argument(
        "--give-up", type=float, default=300.0, metavar="SECONDS", help="answer SegmentOfResult 9 after this"
    )
    bridge.add_argument("--cafile", metavar="FILE", help="CA certificates for an https URL")
    bridge.add_argument(
        "--face", action="store_true", help="also write the institution's card-path answers into DIR/face"
    )
    bridge.add_argument(
        "--face-encoding", default="Shift_JIS", metavar="NAME", help="Shift_JIS (default) or UTF-8"
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value
        for key, value in (
            ("data", args.data),
            ("snapshot", args.snapshot),
            ("database_url", args.database_url),
            ("database_read_url", args.database_read_url),
            ("host", args.host),
            ("port", args.port),
            ("workers", args.workers),
            ("ssl_certfile", args.ssl_certfile),
            ("ssl_keyfile", args.ssl_keyfile),
            ("ssl_ca_certs", args.ssl_ca_certs),
        )
        if value is not None
    }
    if args.demo:
        overrides["demo"] = True
    if args.data or args.demo or args.snapshot:  # an explicit source wins over the environment
        overrides.setdefault("database_url", None)
    return Settings(**overrides)


def _print_demo_banner(settings: Settings) -> None:
    """The demo key and, for a terminal, a curl line that works.

    With JSON logs (a container) only the key, as one log record: the curl line carries a
    demo member's key fields and birthdate, which no log line may hold.
    """
    from service.demo import DEMO_API_KEY, DEMO_INSTITUTION, sample_request

    if settings.log_format == "json":
        logging.getLogger("onshi").info("demo API key (institution %s): %s", DEMO_INSTITUTION, DEMO_API_KEY)
        return
    body = orjson.dumps(sample_request()).decode()
    url = f"http://{settings.host}:{settings.port}/v1/confirmations"
    print(f"Demo API key (institution {DEMO_INSTITUTION}): {DEMO_API_KEY}", flush=True)
    print(
        "Try:\n  curl -s "
        + " ".join(
            shlex.quote(part)
            for part in (
                "-X",
                "POST",
                url,
                "-H",
                f"Authorization: Bearer {DEMO_API_KEY}",
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
            )
        ),
        flush=True,
    )


def settle_heap() -> None:
    """Drop load-time garbage and exempt what remains from the cyclic GC's full scans.

    The snapshot lives in flat arrays, but loading leaves many long-lived objects;
    without this, periodic full collections walk them during request handling.  A
    confirmation allocates a few dozen acyclic objects, so young collections are
    made rarer too (reference counting frees those objects anyway).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 100)


def serve(args: argparse.Namespace) -> int:
    """Validate the data, then run uvicorn; invalid data exits non-zero with nothing served."""
    from core_ext import SnapshotFileError, open_snapshot
    from service.app import create_app
    from service.loading import check_source, source_generation

    if args.database_url and (args.data or args.demo):
        print(
            "onshi: --database-url serves alone or with --snapshot FILE, not with --data or --demo",
            file=sys.stderr,
        )
        return 2
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"onshi: invalid settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    if settings.source == "none":
        print(
            "onshi: nothing to serve: give --data DIR, --demo, --snapshot FILE or --database-url URL",
            file=sys.stderr,
        )
        return 2
    if settings.source == "database":  # each worker loads (or maps) and follows the database itself
        if settings.snapshot:
            try:
                open_snapshot(settings.snapshot)
            except SnapshotFileError as exc:
                print(f"onshi: {exc}; nothing served", file=sys.stderr)
                return 1
        return _run(settings, APP_FACTORY)
    try:
        if settings.workers <= 1:
            generation = source_generation(settings)
        else:
            check_source(settings)
    except DataSetError as exc:
        print(exc.report(), file=sys.stderr)
        print(f"onshi: {len(exc.problems)} problem(s); nothing served", file=sys.stderr)
        return 1
    except SnapshotFileError as exc:
        print(f"onshi: {exc}; nothing served", file=sys.stderr)
        return 1
    if settings.demo:
        _print_demo_banner(settings)
    if settings.workers <= 1:
        app = create_app(settings, generation)
        del generation
        settle_heap()
        return _run(settings, app)
    # Each worker loads its own generation (a snapshot file's pages are shared between them).
    return _run(settings, APP_FACTORY)


def _run(settings: Settings, app: object) -> int:
    """Serve `app` (an application, or the import string of a factory for worker processes)
    until stopped, draining first (service/serving.py); the exit code."""
    from service.serving import ServerConfig, Supervisor, serve_one
    from service.slowclients import ClientLimits, GuardedHttpToolsProtocol, max_connections_default
    from service.tls import tls_options

    config = ServerConfig(
        app,
        client_limits=ClientLimits(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_connections=settings.max_connections or max_connections_default(),
        ),
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        # httptools, with a response's headers and body sent in one write (service/transport.py),
        # deadlines for slow clients and a connection cap (service/slowclients.py)
        http=GuardedHttpToolsProtocol,
        ws="none",  # no WebSocket upgrade is ever accepted
        # No access lines: the access log is the record of confirmations.
        access_log=False,
        log_config=logging_config(settings.log_format),
        log_level="info",
        # Onshi never reads the client address (nor logs it), so uvicorn's X-Forwarded-For
        # rewriting would be work on every request for nothing; and the Server header only
        # advertises the stack.
        proxy_headers=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type]
        **tls_options(settings),
    )
    if isinstance(app, str):
        # Worker processes (and a factory in this one) build their Settings from the
        # environment: hand them these settings, command-line choices included, whole.
        for name, value in settings.environment().items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if settings.workers > 1:
        return Supervisor(config, settings.workers, settings.drain_seconds).run()
    return serve_one(config, settings.drain_seconds)


def run_on_connection(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(connection)` on one short-lived PostgreSQL connection (the one-shot commands)."""
    import asyncio

    from service.db.pool import connect

    async def run() -> T:
        conn = await connect(url)
        try:
            return await work(conn)
        finally:
            await conn.close(timeout=5)

    return asyncio.run(run())


def _database_url(args: argparse.Namespace) -> str | None:
    url = args.database_url or os.environ.get("ONSHI_DATABASE_URL")
    if not url:
        print(f"onshi {args.command}: give --database-url URL (or ONSHI_DATABASE_URL)", file=sys.stderr)
    return url


def migrate_command(args: argparse.Namespace) -> int:

    import asyncpg

    from service.db.migrate import MigrationError, migrate

    url = _database_url(args)
    if not url:
        return 2

    try:
        applied = run_on_connection(url, migrate)
    except (MigrationError, OSError, asyncpg.PostgresError) as exc:
        print(f"onshi migrate: {exc}", file=sys.stderr)
        return 1
    print("applied: " + ", ".join(applied) if applied else "up to date", flush=True)
    return 0


def import_command(args: argparse.Namespace) -> int:
    import time

    import asyncpg

    from service.dataset import load_dir
    from service.db.importer import import_dataset
    from service.db.migrate import MigrationError, migrate

    url = _database_url(args)
    if not url:
        return 2
    started = time.perf_counter()
    try:
        # In the main thread on purpose: the same validation in a worker thread took
        # three times as long and twice the memory (1,000,000 members, glibc arenas).
        data = load_dir(args.dir)
    except DataSetError as exc:
        print(exc.report(), file=sys.stderr)
        print(f"onshi import: {len(exc.problems)} problem(s); nothing loaded", file=sys.stderr)
        return 1
    validated = time.perf_counter()
    rows = sum(len(v) for v in vars(data.tables).values()) + len(data.institutions)

    async def migrate_and_import(conn: asyncpg.Connection) -> int:
        await migrate(conn)
        return await import_dataset(conn, data)

    try:
        seq = run_on_connection(url, migrate_and_import)
    except (MigrationError, OSError, asyncpg.PostgresError) as exc:
        print(f"onshi import: {exc}; nothing loaded", file=sys.stderr)
        return 1
    done = time.perf_counter()
    print(
        f"imported {rows:,} rows (change seq {seq}): validated in {validated - started:.2f} s, "
        f"copied in {done - validated:.2f} s, {rows / (done - started):,.0f} rows/s overall",
        flush=True,
    )
    return 0


def snapshot_build_command(args: argparse.Namespace) -> int:
    import time

    import asyncpg

    import core_ext
    from core_ext import write_snapshot
    from service.dataset import load_dir

    started = time.perf_counter()
    try:
        if args.data:
            dataset = load_dir(args.data)
            loaded = time.perf_counter()
            snapshot, institutions, seq = core_ext.snapshot(dataset.tables), dataset.institutions, 0
            rate_limits = dataset.rate_limits
            phases = f"read+validate {loaded - started:.1f} s, build {time.perf_counter() - loaded:.1f} s"
        else:
            snapshot, institutions, seq, rate_limits = run_on_connection(
                args.database_url, _load_from_database
            )
            phases = f"read+build from PostgreSQL {time.perf_counter() - started:.1f} s"
    except DataSetError as exc:
        print(exc.report(), file=sys.stderr)
        print(f"onshi snapshot build: {len(exc.problems)} problem(s); nothing written", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"onshi snapshot build: {exc}", file=sys.stderr)
        return 1
    built = time.perf_counter()
    size = write_snapshot(snapshot, institutions, args.out, seq, rate_limits)
    print(
        f"wrote {args.out}: {snapshot.persons:,} persons, {snapshot.qualifications:,} qualifications, "
        f"{size / 1e6:,.1f} MB ({size / max(1, snapshot.qualifications):.0f} bytes/qualification); "
        f"{phases}, write {time.perf_counter() - built:.1f} s; change seq {seq}",
        flush=True,
    )
    return 0


async def _load_from_database(conn: Any) -> tuple[Any, dict[str, str], int, dict[str, int]]:
    """The snapshot, institutions' keys, the change_log seq they reflect and the
    institutions' own rate limits, from the database."""
    from service.db.snapshot import rebuild_snapshot

    loaded = await rebuild_snapshot(conn)
    return loaded.data, loaded.institutions.keys, loaded.seq, loaded.institutions.rate_limits


def synth_command(args: argparse.Namespace) -> int:
    import time
    from datetime import date

    from service.synth.generator import Synth

    if args.members < 1:
        print("onshi synth: --members must be at least 1", file=sys.stderr)
        return 2
    try:
        as_of = date.fromisoformat(args.as_of)
    except ValueError:
        print("onshi synth: --as-of must be YYYY-MM-DD", file=sys.stderr)
        return 2
    started = time.perf_counter()
    counts = Synth(args.seed, as_of, Path(args.out)).run(args.members)
    seconds = time.perf_counter() - started
    rows = ", ".join(f"{name.removesuffix('.csv')} {count:,}" for name, count in counts.items())
    print(
        f"wrote {args.out}: {rows} in {seconds:.1f} s "
        f"({counts['persons.csv'] / seconds * 60:,.0f} members/min); API keys are in institutions.csv",
        flush=True,
    )
    return 0


def settings_problems(exc: ValidationError) -> str:
    """A settings error without the values given: they may be the admin token or a
    database URL with its password (pydantic's own text quotes each `input_value`)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


def main(argv: list[str] | None = None) -> int:
    """Run the `onshi` command."""
    try:
        log_format = LogSettings().log_format
    except ValidationError as exc:
        print(f"onshi: invalid settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    logging.config.dictConfig(logging_config(log_format))
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "migrate":
        return migrate_command(args)
    if args.command == "import":
        return import_command(args)
    if args.command == "synth":
        return synth_command(args)
    if args.command == "snapshot" and args.snapshot_command == "fetch":
        from service.snapshot_fetch import fetch

        return fetch(Path(args.folder), Path(args.dest), args.every)
    if args.command == "snapshot":
        return snapshot_build_command(args)
    if args.command == "oqs-bridge":
        from service.oqs.bridge import bridge_command

        return bridge_command(
            args.dir, args.url, args.interval, args.give_up, args.cafile, args.face, args.face_encoding
        )
    raise AssertionError(f"unhandled command {args.command}")  # argparse allows only the ones above


if __name__ == "__main__":
    sys.exit(main())
