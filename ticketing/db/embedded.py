"""Embedded PostgreSQL (pgserver's binaries) kept private to the user running it."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import secrets
import shlex
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Under root the server runs as this system user (PostgreSQL refuses to run as root).
SERVER_SYSTEM_USER = "pgserver"
PASSWORD_FILE = "postgres.password"
SUPERUSER = "postgres"
# The role the app connects as: a member of migration 0003's `ticketing_app`, owning no table,
# so row-level security applies to it (the superuser above only migrates).
APP_LOGIN = "ticketing_login"
APP_PASSWORD_FILE = "app.password"
APP_GROUP = "ticketing_app"
PRIVATE_UMASK = 0o077
# sun_path holds 108 bytes on Linux (104 on macOS); keep room for ".s.PGSQL.5432" and the NUL.
MAX_SOCKET_PATH = 100
HBA = """\
# Written by ticketing.db.embedded: SCRAM passwords only, never trust; no replication.
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
"""
# No TCP at all, and a socket only its owner can connect to, whoever restarts the server.
CONF = "\n# ticketing.db.embedded\nlisten_addresses = ''\nunix_socket_permissions = 0700\n"
ROOT_WARNING = (
    "running as root: a root process's mistakes reach the whole machine, and PostgreSQL cannot "
    f"run as root, so it runs as the system user '{SERVER_SYSTEM_USER}', TICKETING_HOME is "
    "opened to that user's group (0710) and its parents get o+x; run as an ordinary user"
)


@dataclass(frozen=True)
class RunUser:
    """The system user that owns pgdata and runs the postmaster."""

    name: str | None  # None: the current user
    uid: int
    gid: int


def embedded_postgres_url(home: Path) -> str:
    """Start (or reuse) a password-protected PostgreSQL under `home/pgdata`; its asyncpg URL.

    The server outlives this process so the dev stack, the worker and the CLI share one
    instance; a second call from any process reuses it, its data and its password.
    """
    password, socket_dir = _running_cluster(Path(home).resolve())
    return f"postgresql+asyncpg://{SUPERUSER}:{password}@/{SUPERUSER}?host={socket_dir}"


def embedded_app_url(home: Path) -> str:
    """The app role's URL on the embedded PostgreSQL under `home`, made on first use with a
    generated password kept 0600 next to the superuser's."""
    home = Path(home).resolve()
    owner_password, socket_dir = _running_cluster(home)
    with _home_lock(home):
        password = _read_password(home, APP_PASSWORD_FILE)
        if password is None:
            password = secrets.token_urlsafe(32)
            _create_app_login(socket_dir, owner_password, password)
            _write_password(home, password, APP_PASSWORD_FILE)
    return f"postgresql+asyncpg://{APP_LOGIN}:{password}@/{SUPERUSER}?host={socket_dir}"


def _running_cluster(home: Path) -> tuple[str, Path]:
    """The superuser's password and the socket directory, the cluster made or started first."""
    run_user = _run_user()
    _prepare_home(home, run_user)
    pgdata = home / "pgdata"
    with _home_lock(home):
        password = _read_password(home)
        if not (pgdata / "PG_VERSION").exists():
            password = password or _write_password(home, secrets.token_urlsafe(32))
            # A new cluster has no app role yet: its old password names nothing.
            (home / APP_PASSWORD_FILE).unlink(missing_ok=True)
            _initdb(home, pgdata, password, run_user)
        socket_dir = _ensure_running(pgdata, run_user)
        if password is None:
            password = _adopt_trusting_cluster(home, pgdata, socket_dir, run_user)
            socket_dir = _ensure_running(pgdata, run_user)
    return password, socket_dir


def _create_app_login(socket_dir: Path, owner_password: str, password: str) -> None:
    """The login role (and its group, should no migration have made it yet), password set."""
    _psql(
        socket_dir,
        owner_password,
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_GROUP}') THEN
                CREATE ROLE {APP_GROUP} NOLOGIN;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_LOGIN}') THEN
                CREATE ROLE {APP_LOGIN} LOGIN;
            END IF;
        END $$;
        ALTER ROLE {APP_LOGIN} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{password}';
        GRANT {APP_GROUP} TO {APP_LOGIN};
        """,
    )


def _psql(socket_dir: Path, password: str | None, script: str) -> None:
    """Run `script` as the superuser; secrets go by stdin and environment, never argv."""
    from pgserver._commands import POSTGRES_BIN_PATH

    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password is not None:
        env["PGPASSWORD"] = password
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
         "-h", str(socket_dir), "-U", SUPERUSER, "-d", SUPERUSER],
        input=script, text=True, check=True, capture_output=True, timeout=30, env=env,
    )


def stop_embedded_postgres(home: Path, timeout: float = 60.0) -> None:
    """Fast shutdown of the embedded PostgreSQL under `home`, whoever started it."""
    if not ((home / "pgdata").resolve() / "postmaster.pid").exists():
        return
    embedded_pg_ctl(home, ["-w", "-m", "fast", "stop"], timeout=timeout)


def embedded_postgres_running(home: Path) -> bool:
    return _ready_socket_dir((Path(home) / "pgdata").resolve()) is not None


def embedded_pg_ctl(home: Path, args: list[str], timeout: float = 60.0) -> None:
    """Run pg_ctl on the embedded PostgreSQL under `home`, as the user that owns its data."""
    pgdata, run_user = (home / "pgdata").resolve(), _run_user()
    if run_user.name is not None:
        _allow_traverse(pgdata)  # a restart reads pgdata by its absolute path
    _pg_command("pg_ctl", args, pgdata=pgdata, run_user=run_user, timeout=timeout)


def password_file(home: Path) -> Path:
    return Path(home).resolve() / PASSWORD_FILE


def _run_user() -> RunUser:
    if os.geteuid() != 0:
        return RunUser(None, os.getuid(), os.getgid())
    from pgserver.utils import ensure_user_exists

    entry: Any = ensure_user_exists(SERVER_SYSTEM_USER)
    warn_if_root()
    return RunUser(SERVER_SYSTEM_USER, entry.pw_uid, entry.pw_gid)


@functools.cache
def warn_if_root() -> None:
    """One warning per process when the embedded stack runs as root, with the reason."""
    if os.geteuid() == 0:
        log.warning("embedded_stack_as_root", reason=ROOT_WARNING)


def _prepare_home(home: Path, run_user: RunUser) -> None:
    """TICKETING_HOME private to the user; under root, traversable by the server's group only."""
    make_private_dirs(home)
    if run_user.name is None:
        home.chmod(0o700)
        return
    os.chown(home, os.geteuid(), run_user.gid)
    home.chmod(0o710)
    _allow_traverse(home)
    _allow_server_binaries()


def make_private_dirs(path: Path) -> None:
    """mkdir -p with 0700 for every directory it creates (mkdir's parents get 0777 & ~umask)."""
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            with contextlib.suppress(FileExistsError):  # another process was first
                directory.mkdir(mode=0o700)


def _allow_traverse(path: Path) -> None:
    # Traverse only (o+x), never list (o+r): pgserver itself opens every parent to g+rx,o+rx.
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _allow_server_binaries() -> None:
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions

    read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    if POSTGRES_BIN_PATH.stat().st_mode & read_exec != read_exec:
        _allow_traverse(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)


@contextlib.contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    """One process at a time initialises, starts or adopts the cluster under `home`."""
    fd = os.open(home / ".postgres.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_password(home: Path, name: str = PASSWORD_FILE) -> str | None:
    path = home / name
    if not path.exists():
        return None
    path.chmod(0o600)
    return path.read_text().strip() or None


def _write_password(home: Path, password: str, name: str = PASSWORD_FILE) -> str:
    path = home / name
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(password)
    os.replace(tmp, path)
    return password


def _initdb(home: Path, pgdata: Path, password: str, run_user: RunUser) -> None:
    pgdata.mkdir(mode=0o700, exist_ok=True)
    os.chown(pgdata, run_user.uid, run_user.gid)
    # initdb reads the superuser's password from a file the server's user can read: never argv.
    fd, pwfile = tempfile.mkstemp(dir=home, prefix=".initdb-")
    try:
        os.write(fd, password.encode())
        os.close(fd)
        os.chown(pwfile, run_user.uid, run_user.gid)
        _as_server_user(
            "initdb",
            ["--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=utf8",
             "-U", SUPERUSER, f"--pwfile={pwfile}"],
            pgdata=pgdata, run_user=run_user, timeout=120,
        )
    finally:
        os.unlink(pwfile)
    _write_server_config(pgdata)


def _write_server_config(pgdata: Path) -> None:
    (pgdata / "pg_hba.conf").write_text(HBA)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write(CONF)


def _socket_dir(pgdata: Path, run_user: RunUser) -> Path:
    """pgdata itself (0700) when the path fits a socket, else a private directory in /tmp."""
    if len(str(pgdata / ".s.PGSQL.5432").encode()) <= MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"ticketing-pg-{digest}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
        os.chown(path, run_user.uid, run_user.gid)
    info = os.lstat(path)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != run_user.uid
            or info.st_mode & 0o077):
        raise RuntimeError(
            f"socket directory {path} is not a private directory of uid {run_user.uid}: "
            "remove it or use a shorter TICKETING_HOME"
        )
    return path


def _start(pgdata: Path, run_user: RunUser) -> None:
    socket_dir = _socket_dir(pgdata, run_user)
    _as_server_user(
        "pg_ctl",
        ["-w", "-t", "60", "-o", '-h ""', "-o", f"-k {shlex.quote(str(socket_dir))}",
         "-l", str(pgdata / "log"), "start"],
        pgdata=pgdata, run_user=run_user, timeout=70,
    )


def _ensure_running(pgdata: Path, run_user: RunUser) -> Path:
    """The socket directory of the postmaster serving `pgdata`, started if need be."""
    socket_dir = _running_socket_dir(pgdata)
    if socket_dir is None:
        _start(pgdata, run_user)
        socket_dir = _running_socket_dir(pgdata, wait=10.0)
    if socket_dir is None:
        raise RuntimeError(f"embedded PostgreSQL did not start: see {pgdata / 'log'}")
    return socket_dir


def _running_socket_dir(pgdata: Path, wait: float = 0.0) -> Path | None:
    """The socket directory of a ready postmaster serving `pgdata`, from its postmaster.pid."""
    deadline = time.monotonic() + wait
    while True:
        socket_dir = _ready_socket_dir(pgdata)
        if socket_dir is not None or time.monotonic() >= deadline:
            return socket_dir
        time.sleep(0.1)


def _ready_socket_dir(pgdata: Path) -> Path | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    try:
        os.kill(int(lines[0]), 0)
    except (ProcessLookupError, ValueError):
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return Path(lines[4].strip())


def _adopt_trusting_cluster(
    home: Path, pgdata: Path, socket_dir: Path, run_user: RunUser
) -> str:
    """Give a cluster made by an older release (trust auth, no password) a password and SCRAM."""
    password = secrets.token_urlsafe(32)
    try:
        _psql(socket_dir, None, f"ALTER ROLE {SUPERUSER} PASSWORD '{password}';\n")
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"embedded PostgreSQL under {pgdata} asks for a password and {home / PASSWORD_FILE} "
            f"is missing: restore that file or remove {pgdata} ({exc.stderr.strip()[:200]})"
        ) from None
    _write_password(home, password)
    _write_server_config(pgdata)
    # Stopped, not restarted: the next start also moves the socket to a private directory.
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    _pg_command("pg_ctl", ["-w", "-m", "fast", "stop"], pgdata=pgdata, run_user=run_user,
                timeout=70)
    _wait_exit(postmaster, timeout=10.0)
    log.warning("embedded_postgres_secured", pgdata=str(pgdata),
                reason="trust authentication replaced by a password (SCRAM)")
    return password


def _wait_exit(pid: int, timeout: float) -> None:
    # pg_ctl returns when postmaster.pid is gone; the socket lock names the pid until it exits.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _as_server_user(
    name: str, args: list[str], *, pgdata: Path, run_user: RunUser, timeout: float
) -> None:
    """initdb or a start, which need every parent of pgdata traversable by the server's user."""
    for attempt in range(3):
        try:
            _pg_command(name, args, pgdata=pgdata, run_user=run_user, timeout=timeout)
            return
        except subprocess.CalledProcessError:
            if run_user.name is None or attempt == 2:
                raise
            # Another root process may have closed a parent meanwhile (pytest resets its shared
            # /tmp/pytest-of-root to 0700 at every session start).
            _allow_traverse(pgdata)
            time.sleep(0.2)


def _pg_command(
    name: str, args: list[str], *, pgdata: Path, run_user: RunUser, timeout: float
) -> None:
    from pgserver import _commands

    command: Any = getattr(_commands, name)  # generated at import, one per binary
    # user= alone keeps root's group and supplementary groups (pgserver's own default): drop them.
    identity: dict[str, Any] = (
        {"user": run_user.uid, "group": run_user.gid, "extra_groups": []}
        if run_user.name else {}
    )
    command(args, pgdata=pgdata, timeout=timeout, umask=PRIVATE_UMASK, **identity)
