"""Import directions (DESIGN.md, "Layers"): domain code never reaches up into adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Adapters of the domain that may speak Temporal or the web (none under ticketing/ today but the
# Temporal adapter folder, ticketing/temporal/).
ADAPTER_FOLDERS = ("temporal", "web", "cli")
FORBIDDEN = ("temporalio", "fastapi", "starlette", "typer", "rich", "uvicorn")
LIMIT_LINES = 400


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def domain_modules() -> list[Path]:
    return [
        path
        for path in sorted((ROOT / "ticketing").rglob("*.py"))
        if path.relative_to(ROOT / "ticketing").parts[0] not in (*ADAPTER_FOLDERS, "migrations")
    ]


def layer_violations(path: Path) -> list[str]:
    bad = []
    for module in imported_modules(path):
        top = module.split(".")[0]
        if top in FORBIDDEN or top in ("activities", "workflows", "worker", "ticketing_ops"):
            bad.append(module)
    return sorted(bad)


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_code_imports_no_adapter(path: Path) -> None:
    assert layer_violations(path) == []


def test_the_check_catches_a_domain_module_importing_temporalio(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("from temporalio import workflow\nimport fastapi.routing\n")
    assert layer_violations(leaky) == ["fastapi.routing", "temporalio"]


def test_modules_stay_readable_in_one_sitting() -> None:
    folders = ["ticketing", "activities", "workflows", "ticketing_ops", "chaos"]
    too_long = {
        str(path.relative_to(ROOT)): lines
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > LIMIT_LINES
    }
    assert too_long == {}
