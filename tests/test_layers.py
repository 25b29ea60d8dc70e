"""Import directions (DESIGN.md, "Layers"): domain code never reaches up into adapters."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The adapter folders under ticketing/, the only ones that may speak Temporal, HTTP or SMTP: the
# Temporal client side, the web (API, tracking pages, and the coming agent desk web/desk and
# customer portal web/portal), and the coming SMTP/IMAP intake. Its intake rules go to
# ticketing/mail/, which is domain code like any other folder.
ADAPTER_FOLDERS = ("temporal", "web", "smtp")
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


# --- Import cycles -----------------------------------------------------------------------------

CYCLE_PACKAGES = ("ticketing", "activities", "workflows", "ticketing_ops", "chaos")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import in the module, at any depth (inside functions too: lazy imports are how a
    cycle hides), except the body of `if TYPE_CHECKING:`, which never runs."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _type_checking_only(child):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def project_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports by name: `from a.b import c` is a.b.c when that is a
    module, else a.b; the parent packages an import runs implicitly are not counted."""
    named: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            up = package[: len(package) - (node.level - 1)]
            base = ".".join([*up, *([node.module] if node.module else [])])
        for alias in node.names:
            child = f"{base}.{alias.name}"
            named.add(child if child in known else base)
    found = set()
    for module in named:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            found.add(module)
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    return {name: project_imports(path, name, set(modules)) for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        cycles.append(sorted(group))
    return sorted(cycles)


def test_no_import_cycles() -> None:
    assert import_cycles(import_graph(ROOT, CYCLE_PACKAGES)) == []


def test_the_cycle_check_sees_lazy_imports_but_not_type_checking_ones(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text("class B:\n    def f(self):\n        from pkg import a\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n"
    )
    (package / "d.py").write_text("from . import c\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.d"] == {"pkg.c"}
    assert graph["pkg.c"] == set()
    assert import_cycles(graph) == [["pkg.a", "pkg.b"]]


# --- Imports between the folders of ticketing/ ------------------------------------------------

# Which folder of ticketing/ may import which, derived from the imports there are (once the
# cycles were gone). An import along an edge not listed fails test_folders_import_along_the_
# allowed_edges: adding the edge here is the decision to make, in the same change.
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "core": set(),
    "runtime": set(),
    "reconcile": {"core"},
    "db": {
        "core",
        "runtime",
        # rls binds a Principal's scope on the connection.
        "auth",
        # Unusual: db.metadata gathers every domain's ORM models, for migrations and the tests.
        "outages",
        "tenants",
        "tickets",
        "sla",
        "teams",
        "notifications",
        "mail",
    },
    # Unusual: an API key's tenant is checked to exist (tenants.repository).
    "auth": {"core", "db", "runtime", "tenants"},
    # A tenant stores its SLA policy and calendar; the directory re-reads SLA state on change.
    # Unusual: tenants.flows collects the tickets' after-commit duties (re-target on a new zone).
    "tenants": {"core", "db", "auth", "sla", "tickets"},
    # Unusual: sla.flows drives ticket changes (breach, escalation) through the tickets service,
    # and reads ticket numbers and escalation routes; policies are the tenants'.
    "sla": {"core", "db", "auth", "tenants", "tickets"},
    # Unusual: a new ticket of an affected customer is linked to its outage (outages.linking),
    # and a linked ticket's clocks stay stopped (outages.repository).
    "tickets": {"core", "db", "auth", "tenants", "sla", "teams", "notifications", "outages"},
    # Outages: a parent ticket, tagged customers, bulk notices through the outbox.
    "outages": {"core", "db", "auth", "tenants", "tickets", "sla", "notifications"},
    # Unusual: assignment reads tickets (the load of each agent) and their service; a desk
    # login (teams.signin) checks that its tenant exists.
    "teams": {"core", "db", "auth", "tickets", "tenants"},
    # Unusual: notices name tickets (numbering, ticket schemas).
    "notifications": {"core", "db", "auth", "runtime", "tickets"},
    # The email channel: mailboxes, the intake rules (pure) and the intake flow over the ticket
    # flows. Unusual: threading reads the thread root a notice's Message-ID names, and a
    # delivery report marks the notice it is about failed (notifications).
    "mail": {"core", "db", "auth", "tenants", "tickets", "notifications"},
    # Above the domains: what a door renders of a ticket (ticket, timeline, notices, SLA).
    "readmodels": {"auth", "tickets", "notifications", "sla"},
    # The Python door (TicketingService): no adapter, but above the flows and read models.
    "embedding": {"core", "db", "auth", "tickets", "notifications", "readmodels"},
    # Adapters. temporal.schemas is the workflow contract, made of the domains' schemas; the
    # dispatcher is the Temporal side of the notice outbox's doorbell.
    "temporal": {"core", "runtime", "sla", "tenants", "tickets", "notifications", "outages"},
    "web": {
        "core",
        "runtime",
        "db",
        "auth",
        "tenants",
        "tickets",
        "sla",
        "teams",
        "notifications",
        "readmodels",
        "outages",
        # serve.py connects the Temporal ports the API runs with.
        "temporal",
    },
    # Coming: the SMTP/IMAP intake adapter, over the intake rules and the ticket flows.
    "smtp": {"core", "runtime", "db", "auth", "tenants", "tickets", "notifications", "mail"},
}
# Channels of the web adapter: each renders the domain its own way and shares only web/ code
# outside these folders, never another channel's.
WEB_CHANNELS = ("tracking", "desk", "portal")


def folder_of(module: str) -> str | None:
    """`ticketing.<folder>[.…]` → folder; None for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 else None


def folder_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for source, targets in graph.items():
        for target in targets:
            pair = (folder_of(source), folder_of(target))
            if pair[0] and pair[1] and pair[0] != pair[1]:
                edges.setdefault((pair[0], pair[1]), []).append(f"{source} -> {target}")
    return edges


def disallowed_edges(
    graph: dict[str, set[str]], allowed: dict[str, set[str]]
) -> dict[str, list[str]]:
    return {
        f"{source} -> {target}": imports
        for (source, target), imports in sorted(folder_edges(graph).items())
        if target not in allowed.get(source, set())
    }


def test_every_folder_of_ticketing_has_its_allowed_imports_written_down() -> None:
    folders = {path.name for path in (ROOT / "ticketing").iterdir() if path.is_dir()}
    assert folders - {"__pycache__"} - set(ALLOWED_IMPORTS) == set()


def test_folders_import_along_the_allowed_edges() -> None:
    graph = import_graph(ROOT, ("ticketing",))
    assert disallowed_edges(graph, ALLOWED_IMPORTS) == {}


def test_no_domain_folder_may_import_an_adapter() -> None:
    domains = set(ALLOWED_IMPORTS) - set(ADAPTER_FOLDERS)
    assert {folder: ALLOWED_IMPORTS[folder] & set(ADAPTER_FOLDERS) for folder in domains} == {
        folder: set() for folder in domains
    }


def test_the_folder_check_catches_a_new_cross_domain_import(tmp_path: Path) -> None:
    for folder in ("core", "teams", "tickets"):
        (tmp_path / "ticketing" / folder).mkdir(parents=True)
        (tmp_path / "ticketing" / folder / "__init__.py").write_text("")
    (tmp_path / "ticketing" / "__init__.py").write_text("")
    (tmp_path / "ticketing" / "core" / "errors.py").write_text("")
    (tmp_path / "ticketing" / "tickets" / "service.py").write_text(
        "from ticketing.core import errors\n\ndef f():\n    from ticketing.teams import x\n"
    )
    graph = import_graph(tmp_path, ("ticketing",))
    allowed = {"core": set(), "teams": set(), "tickets": {"core"}}
    assert disallowed_edges(graph, allowed) == {
        "tickets -> teams": ["ticketing.tickets.service -> ticketing.teams"]
    }


def test_web_channels_do_not_import_each_other() -> None:
    graph = import_graph(ROOT, ("ticketing",))

    def channel(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if parts[:2] == ["ticketing", "web"] and len(parts) > 3 else None

    crossing = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if channel(source) in WEB_CHANNELS
        and channel(target) in WEB_CHANNELS
        and channel(source) != channel(target)
    )
    assert crossing == []


# --- The package root ---------------------------------------------------------------------------


def test_no_module_lives_loose_at_the_package_root() -> None:
    """Every module has a folder that says what it is; the root holds only the package."""
    loose = sorted(path.name for path in (ROOT / "ticketing").glob("*.py"))
    assert loose == ["__init__.py"]
