"""Scratch PostgreSQL clusters for tests that must crash, archive and restore a server of their
own: ``initdb`` into a temporary folder, ``pg_ctl`` on a free loopback port (its socket in the
same folder), and always stopped and deleted afterwards. Never the shared server.

The server programs refuse to run as root, so when the tests run as root (CI) every server
program runs as the ``postgres`` user, in a folder that user owns. The programs are found with
``pg_config --bindir``, then in ``/usr/lib/postgresql/<version>/bin`` (newest first), then on
PATH; without them the tests skip, and fail instead under ``CI=true``."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.durability.scratch import Scratch
from tests.durability.server import free_port

TOOLS = ("initdb", "pg_ctl", "postgres", "pg_basebackup", "pg_verifybackup", "pg_controldata")
OWNER = "postgres"  # the server programs' user when the tests run as root
SUPERUSER = "postgres"  # the cluster's superuser (trust authentication, loopback only)
START_SECONDS = 60


def find_bindir() -> Path | None:
    """The folder holding the PostgreSQL server programs, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            answer = subprocess.run(  # noqa: S603 - pg_config, found on PATH
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(answer.stdout.strip()))

    def version(folder: str) -> int:
        number = Path(folder).parent.name
        return int(number) if number.isdigit() else 0

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    ]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in TOOLS):
            return folder
    return None


def _missing() -> str:
    """Why no scratch cluster can be made here, or "" if one can."""
    if find_bindir() is None:
        return (
            f"no PostgreSQL server programs ({', '.join(TOOLS)}) in `pg_config --bindir`, "
            "/usr/lib/postgresql/*/bin or on PATH: install the server package (e.g. "
            "postgresql-15) to run the scratch-cluster tests"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OWNER)
        except KeyError:
            return f"running as root, and there is no {OWNER!r} user to run the server as"
    return ""


def require_server_programs() -> Path:
    """The server programs' folder; skips the test without them (fails it under CI=true,
    where the PostgreSQL tests must run)."""
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    folder = find_bindir()
    assert folder is not None
    return folder


def _conf_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


class Cluster:
    """One scratch cluster: its folder (``home``) holds the data directory, the socket, the
    server log, and whatever else the test puts there (a WAL archive, a base backup)."""

    def __init__(self, bindir: Path, home: Path) -> None:
        self.bindir = bindir
        self.home = home
        self.data = home / "data"
        self.log = home / "server.log"
        self.port = 0

    # --- running the programs -----------------------------------------------------------

    def run(
        self, tool: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as the cluster's owner; fail with its output if ``check``."""
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own programs, fixed arguments
            [str(self.bindir / tool), *args],
            cwd=self.home,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **as_owner(),
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n"
                f"{done.stderr}\n{self.log_text()}"
            )
        return done

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # --- making and configuring ---------------------------------------------------------

    def initdb(self, **settings: str | int | bool) -> None:
        """A new cluster (UTF-8, trust authentication) with ``settings`` in postgresql.conf."""
        self.run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        )
        self.configure(**settings)

    def configure(self, **settings: str | int | bool) -> None:
        """Append settings to postgresql.conf (a later line wins), always with a free loopback
        port and the socket in the cluster's folder, so it never meets the shared server."""
        self.port = free_port()
        lines = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": str(self.home),
            **settings,
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# scratch cluster (tests/durability/pgcluster.py)\n")
            conf.writelines(f"{name} = {_conf_value(v)}\n" for name, v in lines.items())

    def restore_base_backup(
        self, base: Path, *, restore_command: str, recovery_target_time: dt.datetime
    ) -> None:
        """A data directory from a base backup, set to replay archived WAL up to a time and
        then open for writing: the steps of docs/operations.md's point-in-time recovery."""
        shutil.copytree(base, self.data, symlinks=True)
        chown_tree(self.data)
        self.data.chmod(0o700)
        self.configure(
            restore_command=restore_command,
            recovery_target_time=recovery_target_time.isoformat(sep=" "),
            recovery_target_action="promote",
        )
        signal_file = self.data / "recovery.signal"
        signal_file.touch()
        chown_tree(signal_file)

    # --- starting and stopping ----------------------------------------------------------

    def start(self) -> None:
        self.run(
            "pg_ctl",
            "start",
            f"--pgdata={self.data}",
            f"--log={self.log}",
            "--wait",
            f"--timeout={START_SECONDS}",
            timeout=START_SECONDS + 10,
        )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop``; ``immediate`` ends every server process at once, writing no
        checkpoint, so the next start must recover from the WAL, as after a crash."""
        self.run("pg_ctl", "stop", f"--pgdata={self.data}", f"--mode={mode}", "--wait")

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pid_file.read_text().splitlines()[0])
        return None

    def shut_down(self) -> None:
        """Stop the server whatever state it is in: ``pg_ctl stop -m immediate``, and if that
        fails, the postmaster's pid from postmaster.pid, SIGQUIT, then SIGKILL."""
        pid = self.postmaster_pid()
        if pid is None or not _alive(pid):
            return
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            self.run("pg_ctl", "stop", f"--pgdata={self.data}", "--mode=immediate", timeout=20)
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            if not _alive(pid):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def wait_until_writable(self, timeout: float = 60) -> None:
        """After a recovery that promotes: wait until the server has left recovery."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sql("SELECT pg_is_in_recovery()") == [(False,)]:
                return
            time.sleep(0.05)
        raise AssertionError(f"the server did not leave recovery:\n{self.log_text()}")

    # --- looking inside -----------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(statement)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def create_database(self, name: str) -> Scratch:
        """A new database in this cluster, as a scratch database saferoom can run on."""
        self.sql(f'CREATE DATABASE "{name}"')
        return Scratch(url=self.url(name), kind="postgresql", name=name)

    def control_data(self) -> dict[str, str]:
        """What pg_controldata says about the stopped (or running) cluster."""
        printed = self.run("pg_controldata", f"--pgdata={self.data}").stdout
        return {
            name.strip(): value.strip()
            for name, _, value in (line.partition(":") for line in printed.splitlines())
        }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now holds the pid
        return False
    return True


def as_owner() -> dict[str, Any]:
    """subprocess arguments that run a program as the cluster's owner when we are root."""
    if os.geteuid() != 0:
        return {}
    owner = pwd.getpwnam(OWNER)
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def chown_tree(path: Path) -> None:
    """Give ``path`` (and all under it) to the cluster's owner when we are root."""
    if os.geteuid() != 0:
        return
    owner = pwd.getpwnam(OWNER)
    os.chown(path, owner.pw_uid, owner.pw_gid)
    if path.is_dir() and not path.is_symlink():
        for root, folders, files in os.walk(path):
            for name in folders + files:
                os.chown(
                    os.path.join(root, name), owner.pw_uid, owner.pw_gid, follow_symlinks=False
                )


@contextlib.contextmanager
def scratch_cluster(label: str) -> Iterator[Cluster]:
    """A folder for a cluster (``Cluster.initdb`` or ``restore_base_backup`` fills it); the
    server is stopped and the folder deleted afterwards, however the test ended."""
    bindir = require_server_programs()
    # Not pytest's tmp_path: the server's user must be able to reach the folder.
    home = Path(tempfile.mkdtemp(prefix=f"saferoom-pg-{label}-"))
    cluster = Cluster(bindir, home)
    try:
        chown_tree(home)
        yield cluster
    finally:
        try:
            cluster.shut_down()
        finally:
            shutil.rmtree(home, ignore_errors=True)
