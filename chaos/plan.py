"""The run's plan, fixed before it starts: settings, time frame, seeded requests and faults."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from chaos.smtp import REFUSED_PREFIX
from ticketing.sla.policy import SlaPolicy
from ticketing.sla.policy_document import parse_policy_document
from ticketing.temporal import names
from ticketing.temporal.schemas import InstallationInput, OnboardingInput

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "last.json"
TENANTS = ("chaos-a", "chaos-b", "chaos-c")

# (at, kind, downtime): seconds since the load started, the fault, seconds it lasts.
Fault = tuple[float, str, float]


@dataclass
class ChaosConfig:
    n: int = 500  # business requests = tickets expected, numbered 1..n
    seed: int = 1
    home: Path | None = None  # default: a fresh /tmp/chaos-* removed afterwards
    time_limit: float = 900.0  # seconds for the whole run, set-up to verdict
    worker_kills: int = 4
    pg_restarts: int = 2
    temporal_restarts: int = 2
    load_seconds: float | None = None  # window over which starts are spread; default n / 6
    concurrency: int = 16  # starts in flight at once
    installation_ratio: float = 0.4
    duplicate_ratio: float = 0.1  # extra onboarding workflows repeating a business key
    refused_ratio: float = 0.1  # customers whose address the mail server refuses (550)
    smtp_outages: int = 1  # the mail server down (connection refused) for a stretch
    smtp_slowdowns: int = 1  # the mail server slow (seconds per message) for a stretch
    workers: int = 2  # `ticketing worker` processes on the one task queue
    api_workers: int = 2  # `ticketing api --workers N`
    http_ratio: float = 0.15  # business requests made as HTTP creates (Idempotency-Key)
    api_kills: int = 1  # the API's parent and its uvicorn workers SIGKILLed together
    api_child_kills: int = 1  # one uvicorn worker process SIGKILLed (uvicorn restarts it)
    mails: int | None = None  # new-ticket mails, by SMTP and IMAP; default n / 10
    imap_ratio: float = 0.4  # of the mails, appended to a Dovecot mailbox the poller fetches
    mail_resend_ratio: float = 0.1  # mails delivered again through the other door
    mail_kills: int = 1  # `ticketing mail serve` SIGKILLed
    results_path: Path | None = DEFAULT_RESULTS
    keep_home: bool = False

    def window(self) -> float:
        return self.load_seconds if self.load_seconds is not None else max(15.0, self.n / 6)

    def mail_count(self) -> int:
        return self.mails if self.mails is not None else self.n // 10



@dataclass
class Request:
    """One workflow the driver starts, or (door "http") one `POST /api/v1/tickets` with the
    business key as its Idempotency-Key. Duplicates repeat an onboarding's business key."""

    workflow_id: str
    workflow_type: str
    tenant_id: str
    customer_id: str
    business_key: str
    release_at: float
    duplicate_of: str | None = None
    finish: str | None = None  # "complete" | "cancel" for installations
    refused: bool = False  # the customer's address is refused by the mail server
    started: bool = False
    start_attempts: int = 0
    already_started: bool = False
    finished: bool = False
    error: str | None = None
    door: str = "workflow"  # "workflow" | "http"
    ticket_numbers: list[str] = field(default_factory=list)  # every HTTP answer's ticket

    @property
    def email(self) -> str:
        return f"{REFUSED_PREFIX if self.refused else ''}customer-{self.customer_id}@example.test"

    def workflow_input(self) -> OnboardingInput | InstallationInput:
        email = self.email
        if self.workflow_type == names.ONBOARDING_WORKFLOW:
            return OnboardingInput(
                tenant_id=self.tenant_id,
                customer_id=self.customer_id,
                customer_email=email,
                customer_name=f"Chaos Customer {self.customer_id}",
            )
        return InstallationInput(
            tenant_id=self.tenant_id,
            customer_id=self.customer_id,
            service_address=f"{self.customer_id} Chaos Street",
            customer_email=email,
        )


def plan_requests(config: ChaosConfig, rng: random.Random) -> list[Request]:
    """n business requests (onboardings and installations) plus duplicate onboardings."""
    window = config.window()
    requests: list[Request] = []
    onboardings: list[Request] = []
    for index in range(config.n):
        tenant = TENANTS[index % len(TENANTS)]
        customer = str(100_000 + index)
        release = window * index / config.n
        if rng.random() < config.http_ratio:
            requests.append(
                Request(
                    workflow_id=f"chaos-http-{index:05d}",
                    workflow_type="http",
                    tenant_id=tenant,
                    customer_id=customer,
                    business_key=f"http:{tenant}:{customer}",
                    release_at=release,
                    refused=rng.random() < config.refused_ratio,
                    door="http",
                )
            )
        elif rng.random() < config.installation_ratio:
            workflow_id = f"chaos-ins-{index:05d}"
            requests.append(
                Request(
                    workflow_id=workflow_id,
                    workflow_type=names.INSTALLATION_WORKFLOW,
                    tenant_id=tenant,
                    customer_id=customer,
                    business_key=f"installation:{workflow_id}",
                    release_at=release,
                    finish="complete" if rng.random() < 0.7 else "cancel",
                    refused=rng.random() < config.refused_ratio,
                )
            )
        else:
            request = Request(
                workflow_id=f"chaos-onb-{index:05d}",
                workflow_type=names.ONBOARDING_WORKFLOW,
                tenant_id=tenant,
                customer_id=customer,
                business_key=f"onboarding:{tenant}:{customer}",
                release_at=release,
                refused=rng.random() < config.refused_ratio,
            )
            requests.append(request)
            onboardings.append(request)
    for original in rng.sample(onboardings, round(len(onboardings) * config.duplicate_ratio)):
        # Same tenant and customer, another workflow id: sometimes racing the original,
        # sometimes long after it finished.
        requests.append(
            Request(
                workflow_id=f"{original.workflow_id}-dup",
                workflow_type=names.ONBOARDING_WORKFLOW,
                tenant_id=original.tenant_id,
                customer_id=original.customer_id,
                business_key=original.business_key,
                release_at=min(window, original.release_at + rng.choice([0.0, 0.05, 2.0, 10.0])),
                duplicate_of=original.workflow_id,
                refused=original.refused,
            )
        )
    requests.sort(key=lambda request: request.release_at)
    return requests


def plan_faults(config: ChaosConfig, rng: random.Random) -> list[Fault]:
    """(at, kind, downtime) within the load window, in time order."""
    kinds = (
        ["worker_kill"] * config.worker_kills
        + ["postgres_restart"] * config.pg_restarts
        + ["temporal_restart"] * config.temporal_restarts
        + ["smtp_down"] * config.smtp_outages
        + ["smtp_slow"] * config.smtp_slowdowns
        + ["api_kill"] * config.api_kills
        + ["api_child_kill"] * config.api_child_kills
        + ["mail_kill"] * config.mail_kills
    )
    rng.shuffle(kinds)
    window = config.window()
    downtime = {
        "worker_kill": (0.5, 3.0),
        "postgres_restart": (2.0, 6.0),
        "temporal_restart": (1.0, 4.0),
        # Shorter than the dispatcher's retry bound in this run (TICKETING_MAIL_RETRY_*).
        "smtp_down": (5.0, 10.0),
        "smtp_slow": (8.0, 15.0),
        "api_kill": (0.5, 3.0),
        "api_child_kill": (0.0, 0.0),  # uvicorn's own supervisor restarts it
        "mail_kill": (0.5, 3.0),
    }
    times = sorted(rng.uniform(0.08, 0.85) * window for _ in kinds)
    return [
        (at, kind, round(rng.uniform(*downtime[kind]), 2))
        for at, kind in zip(times, kinds, strict=True)
    ]


def sla_policy_in_seconds() -> SlaPolicy:
    """24x7 targets in seconds, so every open ticket warns, breaches and escalates in the run."""
    targets = {"first_response_seconds": 12, "resolution_seconds": 30}
    return parse_policy_document(
        {
            "targets": {p: targets for p in ("low", "normal", "high", "urgent")},
            "warning_thresholds": [50],
        }
    ).to_policy()


@dataclass
class Clock:
    """The run's time frame: the schedule's times are seconds since `t0`, when the load starts
    (set-up comes first); `deadline` is --time-limit after the run began."""

    time_limit: float
    started_at: float = field(default_factory=time.monotonic)
    t0: float = field(default_factory=time.monotonic)
    # Wall clock of t0, to date the database's timestamps against the faults.
    t0_wall: float = field(default_factory=time.time)

    @property
    def deadline(self) -> float:
        return self.started_at + self.time_limit

    def start_load(self) -> None:
        self.t0 = time.monotonic()
        self.t0_wall = time.time()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def since_t0(self, at: float | None = None) -> float:
        """Seconds from t0 to `at` (a monotonic time; default now)."""
        return (time.monotonic() if at is None else at) - self.t0

    def wall(self, at: float) -> float:
        """The wall clock at monotonic time `at`."""
        return self.t0_wall + at - self.t0
