"""The style and type checks the project promises, enforced by the same test command as CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["ticketing", "activities", "workflows", "ticketing_ops", "worker.py"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", *PACKAGES, "tests", "bench", "chaos")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    # bench and chaos too: a type error there shows only at the end of a long run.
    result = run("mypy", *PACKAGES, "bench", "chaos")
    assert result.returncode == 0, result.stdout + result.stderr
