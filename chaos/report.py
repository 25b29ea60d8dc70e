"""What a chaos run found: the checks, the fault log and the stats, as JSON and as tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.plan import ChaosConfig

# How a check records its verdict: name, expected, observed, passed, details.
Add = Callable[[str, str, str, bool, list[str]], None]


@dataclass
class Check:
    name: str
    expected: str
    observed: str
    passed: bool
    details: list[str] = field(default_factory=list)


@dataclass
class FaultEvent:
    at: float  # seconds since the load started
    kind: str
    detail: str
    downtime: float | None = None


@dataclass
class ChaosReport:
    config: dict[str, Any]
    home: str
    checks: list[Check] = field(default_factory=list)
    faults: list[FaultEvent] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"].sort(key=lambda event: event["at"])
        data["passed"] = self.passed
        return data


def config_json(config: ChaosConfig) -> dict[str, Any]:
    data = asdict(config)
    data["home"] = str(config.home) if config.home else None
    data["results_path"] = str(config.results_path) if config.results_path else None
    data["load_seconds"] = config.window()
    data["mails"] = config.mail_count()
    return data


def write_json(report: ChaosReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, default=str))


def print_report(report: ChaosReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(140, Console().width))
    config = report.config
    faults = Table(title=f"Faults (seed {config['seed']})", show_lines=False)
    for column in ("t (s)", "fault", "detail", "down (s)"):
        faults.add_column(column)
    for event in sorted(report.faults, key=lambda event: event.at):
        faults.add_row(f"{event.at:.1f}", event.kind, event.detail,
                       "" if event.downtime is None else f"{event.downtime:.1f}")
    console.print(faults)
    checks = Table(title=f"Chaos run: N={config['n']}, seed {config['seed']}", show_lines=True)
    checks.add_column("check")
    checks.add_column("expected")
    checks.add_column("observed")
    checks.add_column("result")
    for check in report.checks:
        verdict = "[green]PASS[/green]" if check.passed else "[red]FAIL[/red]"
        observed = check.observed
        if check.details and not check.passed:
            observed += "\n" + "\n".join(check.details[:5])
        checks.add_row(check.name, check.expected, observed, verdict)
    console.print(checks)
    stats = report.stats
    console.print(
        f"started {stats.get('workflows_started')} workflows "
        f"({stats.get('business_requests')} requests + {stats.get('duplicate_onboardings')} "
        f"duplicate onboardings; {stats.get('installations')} installations; "
        f"{stats.get('http_creates')} HTTP creates) and {stats.get('mails')} mails "
        f"({stats.get('mail_deliveries')} deliveries) over "
        f"{stats.get('load_seconds')} s; all closed after {stats.get('all_closed_after_seconds')}"
        f" s → {stats.get('tickets_per_second')} tickets/s through the faults; RPC retries "
        f"{stats.get('rpc_retries')}; HTTP retries {stats.get('http_retries')}; mail retries "
        f"{stats.get('mail_retries')}; spawns {stats.get('spawns')}, unexpected exits "
        f"{ {k: len(v) for k, v in (stats.get('unexpected_exits') or {}).items()} }; "
        f"reconciler repairs {stats.get('reconciler_repairs')}; total "
        f"{stats.get('total_seconds')} s; home {report.home}"
    )
    console.print("[green]ALL CHECKS PASSED[/green]" if report.passed
                  else "[red]SOME CHECKS FAILED[/red]")
