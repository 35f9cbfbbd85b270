"""What every benchmark shares: a database and a Redis of its own, and the `--smoke` size.

A benchmark never touches a name the suite or another checkout uses: its database is
`bench_<script>_<pid>` on the PostgreSQL server of `DATABASE_URL` (or 127.0.0.1:5432), created
at the start and dropped at the end (`--keep` keeps it); a benchmark that needs Redis starts
its own `redis-server` on a free port and stops it. So two runs, the suite and the lead's
checkout can all run at once, and FLUSHDB in a benchmark can only ever empty its own server.

Import this module before Django: `private_database()` sets `DATABASE_URL`. The database
arrives migrated, every NOT NULL column given its model default (`column_defaults`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SECRET = "bench-only-secret-key-bench-only-secret-key"  # noqa: S105 - bench databases only


def private_name(script: str) -> str:
    """`bench_<script>_<pid>`: no suite (`test_*`, `smartdesk*`) or other run has it."""
    return f"bench_{script}_{os.getpid()}"


def _server() -> str:
    url = os.environ.get("BENCH_DATABASE_SERVER") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return DEFAULT_SERVER
    return url.rsplit("/", 1)[0]


def private_database(script: str) -> str:
    """Create this run's database, migrated, drop it at exit (unless `--keep`), point
    `DATABASE_URL` at it and return its URL.

    Migrating from nothing takes the better part of a minute on a busy machine, so the
    database is cloned from a migrated template, `bench_template_<hash of the migrations>`,
    built by the first run that needs it. The hash names its content: a checkout with other
    migrations builds (and uses) its own, and a template is only ever read.
    """
    name = private_name(script)
    url = f"{_server()}/{name}"
    template = _template()
    for attempt in range(50):  # another run may be cloning the same template this instant
        try:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            break
        except Exception as error:
            if "being accessed by other users" not in str(error) or attempt == 49:
                raise
            time.sleep(0.2)
    os.environ["DATABASE_URL"] = url
    if "--keep" not in sys.argv:
        atexit.register(drop_database, url)
    return url


def _template() -> str:
    digest = hashlib.sha1()  # noqa: S324 - a content name, not security
    ours = (
        p
        for p in ROOT.glob("**/migrations/*.py")
        if not p.relative_to(ROOT).parts[0].startswith(".")
    )
    for path in sorted(ours):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())  # column_defaults() is part of the template
    template = f"bench_template_{digest.hexdigest()[:12]}"
    if _exists(template):
        return template
    building = f"{template}_{os.getpid()}"
    _admin(f'CREATE DATABASE "{building}"')
    try:
        code = (
            "import smartdesk, django; django.setup();"
            "from django.core.management import call_command;"
            "call_command('migrate', verbosity=0);"
            "from bench.common import column_defaults; column_defaults()"
        )
        env = {
            **os.environ,
            "DATABASE_URL": f"{_server()}/{building}",
            "DJANGO_SETTINGS_MODULE": "smartdesk.settings",
            "SECRET_KEY": SECRET,
            "DEBUG": "false",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)  # noqa: S603
        try:
            _admin(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
        except Exception:
            if not _exists(template):
                raise  # else: a concurrent run built it first; ours goes
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    _prune_templates(keep=template)
    return template


def _prune_templates(*, keep: str) -> None:
    """Drop the templates of other migration states (a cache: whoever needs one rebuilds it),
    except one being cloned right now."""
    import psycopg

    with psycopg.connect(f"{_server()}/postgres", autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_template\\_%%' "
            "AND datname <> %s",
            [keep],
        ).fetchall()
        for (name,) in names:
            with contextlib.suppress(psycopg.Error):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{_server()}/postgres", autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if not name.startswith("bench_"):  # never anything but our own
        raise ValueError(f"refusing to drop {name}")
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{_server()}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A `redis-server` of this run's own on a free loopback port (no persistence); yields its
    URL and stops it afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    process = subprocess.Popen(  # noqa: S603 - the system's redis-server, our arguments
        [
            binary,
            "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
            "--dir", workdir, "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process=process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for_port(
    port: int, *, process: subprocess.Popen | None = None, timeout: float = 30
) -> None:
    """Until something accepts on 127.0.0.1:`port` (or `process` died, or the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise SystemExit(
                    f"the server on port {port} exited ({process.returncode})"
                ) from None
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listening on port {port} after {timeout}s") from None
            time.sleep(0.05)


def production_env(**extra: str) -> None:
    """The product's settings as production runs them (no DEBUG, a secret, real static
    storage), for this process and the servers it starts."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("BENCH_SETTINGS", "bench.settings"),
        SECRET_KEY=os.environ.get("SECRET_KEY") or SECRET,
        DEBUG="false",
        SECURE_COOKIES="false",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        # Shared between runs: collectstatic only copies what changed.
        STATIC_ROOT=os.environ.get("BENCH_STATIC_ROOT", "/tmp/smartdesk-bench-static"),
        **extra,
    )


def setup_django() -> None:
    """`django.setup()` for a settings overlay outside the `smartdesk` package (bench.settings,
    bench.ingest_site): the package (its Celery app reads settings on import) must be imported
    before the overlay, or the overlay is read half-built."""
    import django

    import smartdesk  # noqa: F401

    django.setup()


def collectstatic() -> None:
    """`collectstatic` into the shared bench static root, one run at a time (a lock file):
    the production storage needs its manifest, and copying only what changed takes a second."""
    import fcntl

    from django.conf import settings
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{root}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        call_command("collectstatic", interactive=False, verbosity=0)


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark has."""
    p = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny size that runs in seconds (CI: proves the benchmark still runs; the "
        "figures mean nothing)",
    )
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return p


def smoke_note(smoke: bool) -> None:
    if smoke:
        print("smoke size: the figures below only prove that the benchmark runs")


def column_defaults() -> int:
    """Give every NOT NULL column of this (bench) database the default its model field has.

    The benchmarks fill tables with INSERT … SELECT naming only the columns they care about,
    so a NOT NULL field added later (with a default, as a migration on a full table needs)
    does not break them: the database fills it as the ORM would. `auto_now(_add)` dates get
    now(). Returns the number of columns changed. Call after `migrate`.
    """
    from django.apps import apps
    from django.db import connection, models

    changed = 0
    with connection.cursor() as cursor:
        for model in apps.get_models():
            meta = model._meta
            if not meta.managed or meta.proxy:
                continue
            for field in meta.concrete_fields:
                if field.null or field.primary_key or field.db_default is not models.NOT_PROVIDED:
                    continue
                if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                    sql = "now()"
                elif field.has_default() and callable(field.default):
                    if field.default not in (dict, list):
                        continue  # a fresh value per row (keys, secrets): the fill names them
                    sql = connection.ops.compose_sql(
                        "%s", [field.get_db_prep_save(field.default(), connection)]
                    )
                elif field.has_default() or field.empty_strings_allowed:
                    # Without a default the ORM writes "" to a NOT NULL text column.
                    value = field.get_db_prep_save(field.get_default(), connection)
                    if value is None:
                        continue
                    sql = connection.ops.compose_sql("%s", [value])
                else:
                    continue
                table = connection.ops.quote_name(meta.db_table)
                column = connection.ops.quote_name(field.column)
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {sql}")
                changed += 1
    return changed
