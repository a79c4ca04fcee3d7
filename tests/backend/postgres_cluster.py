"""A throw-away PostgreSQL cluster for the tracking server's tests and benches.

Debian's own binaries (`apt-get install postgresql`), no Docker: `initdb` into a mkdtemp folder,
a server on 127.0.0.1 and a free port that demands a generated password (scram-sha-256) over
TCP and trusts only its private Unix socket folder; stopped and deleted on exit.

initdb and postgres refuse to run as root (CI runs tests as uid 0): there the cluster runs as the
unprivileged `postgres` user (or `nobody`) through `setpriv`, and the folder above its data is
made traversable (0711, not listable) so that user can reach it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class PostgresMissingError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


@dataclass(frozen=True)
class PostgresCluster:
    uri: str  # postgresql+psycopg://mlwb:<password>@127.0.0.1:<port>/mlflow
    host: str
    port: int
    user: str
    password: str
    database: str
    socket_dir: Path
    data_dir: Path

    def uri_for(self, database: str) -> str:
        return (
            f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def create_database(self, name: str) -> str:
        """Create another database (e.g. one per test) and return its URI."""
        import psycopg

        with psycopg.connect(
            self.uri_for("postgres").replace("+psycopg", ""), autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')  # name is the caller's identifier
        return self.uri_for(name)


def _bin_dir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresMissingError(
            "PostgreSQL's server binaries are missing: apt-get install postgresql"
        )
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def throwaway_postgres(database: str = "mlflow") -> Iterator[PostgresCluster]:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="mlwb-pg-"))
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                owner = pwd.getpwnam(name)
                break
        if owner is None:
            raise PostgresMissingError("running as root and no unprivileged user to run PostgreSQL")
        prefix = ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--clear-groups"]
        root.chmod(0o711)
    data, sockets, pwfile = root / "data", root / "socket", root / "pwfile"
    sockets.mkdir(mode=0o700)
    password = secrets.token_urlsafe(24)
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if owner is not None:
        for path in (sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        data.mkdir(mode=0o700)
        os.chown(data, owner.pw_uid, owner.pw_gid)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    env.pop("PGPASSWORD", None)
    port = _free_port()
    started = False
    try:
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "mlwb",
             f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, env=env, cwd=root,
        )  # fmt: skip
        pwfile.unlink()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"),
             "-o", options, "-w", "-t", "60", "start"],
            check=True, capture_output=True, env=env, cwd=root,
        )  # fmt: skip
        started = True
        cluster = PostgresCluster(
            uri="", host="127.0.0.1", port=port, user="mlwb", password=password,
            database=database, socket_dir=sockets, data_dir=data,
        )  # fmt: skip
        uri = cluster.create_database(database)
        yield PostgresCluster(**{**cluster.__dict__, "uri": uri})
    except subprocess.CalledProcessError as error:
        out = (error.stdout or b"").decode(errors="replace") + (error.stderr or b"").decode(
            errors="replace"
        )
        raise RuntimeError(f"PostgreSQL failed: {error.cmd[len(prefix)]}: {out[-2000:]}") from None
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True, env=env, cwd=root, check=False,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
