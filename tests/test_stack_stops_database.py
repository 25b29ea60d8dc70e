"""`ticketing dev` stopped with Ctrl-C, and `ticketing demo` at its end, stop the embedded
PostgreSQL they run on, last, after the worker, the API and the Temporal dev server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ticketing.embedded import embedded_postgres_running, stop_embedded_postgres
from ticketing_ops.devstack import find_free_port

CLI = Path(sys.executable).parent / "ticketing"


def stack_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TICKETING_DATABASE_URL",
                                                            "TEMPORAL_ADDRESS")}
    return {**env, "TICKETING_HOME": str(home), "TICKETING_API_PORT": str(find_free_port())}


def output(log: tempfile._TemporaryFileWrapper[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


def test_ctrl_c_on_dev_stops_the_embedded_postgres(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(CLI), "dev", "--headless", "--port", str(find_free_port()), "--json"],
            env=stack_env(home),
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            assert process.stdout is not None
            up = process.stdout.readline()  # the one JSON object, printed once the stack is up
            assert up, output(log)
            assert json.loads(up)["home"] == str(home.resolve())
            assert embedded_postgres_running(home)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=120) == 0, output(log)
            assert not embedded_postgres_running(home), output(log)
            assert not (home / "pgdata" / "postmaster.pid").exists()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            stop_embedded_postgres(home)


def test_the_end_of_the_demo_stops_the_embedded_postgres(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        result = subprocess.run(
            [str(CLI), "demo", "--json"],
            env=stack_env(home),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads(result.stdout)
        # The demo keeps its own server under TICKETING_HOME/demo.
        demo_home = home / "demo"
        assert (demo_home / "pgdata" / "PG_VERSION").exists()  # it did run there
        assert not embedded_postgres_running(demo_home)
        assert not (demo_home / "pgdata" / "postmaster.pid").exists()
    finally:
        stop_embedded_postgres(home / "demo")
