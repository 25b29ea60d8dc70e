"""Each domain error carries its own HTTP status and type; the API, the CLI and the activity
boundary all read them from the error, and every status one can carry is documented."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import ticketing
from activities.boundary import domain_failure
from ticketing.core.errors import (
    CustomerNotFound,
    Forbidden,
    InvalidCustomerId,
    InvalidTransition,
    NoPrincipal,
    TenantMismatch,
    TicketingError,
)
from ticketing.notifications.rendering import InvalidAddress
from ticketing.teams.errors import AlreadyExists
from ticketing.web.problems import PROBLEMS, domain_problem
from ticketing_ops.cli.errors import to_cli_error


def every_domain_error() -> list[type[TicketingError]]:
    """Every TicketingError class in the package (its modules imported, migrations aside)."""
    for module in pkgutil.walk_packages(ticketing.__path__, "ticketing."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[TicketingError]] = []
    pending: list[type[TicketingError]] = [TicketingError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__name__)


def test_every_status_a_domain_error_carries_is_documented_on_every_route() -> None:
    carried = {cls.__name__: cls.status for cls in every_domain_error()}
    assert carried["AlreadyExists"] == 409
    assert {name: status for name, status in carried.items() if status not in PROBLEMS} == {}


SAMPLES = [
    (AlreadyExists("name", "noc"), 409),
    (InvalidCustomerId("customer_id", "x", "not a customer id"), 422),
    (CustomerNotFound("42"), 404),
    (Forbidden("erase tickets"), 403),
    (NoPrincipal("TeamService"), 401),
    (InvalidTransition("closed", "open"), 409),
    (InvalidAddress("email", "a@", "malformed"), 400),
]


@pytest.mark.parametrize(("error", "status"), SAMPLES, ids=lambda v: type(v).__name__)
def test_api_cli_and_activity_report_the_error_alike(error: TicketingError, status: int) -> None:
    response = domain_problem(error)
    body = json.loads(response.body)
    assert (response.status_code, body["status"]) == (status, status)
    assert (body["type"], body["detail"], body["field"]) == (
        type(error).__name__,
        error.message,
        error.field,
    )
    line = to_cli_error(error)
    assert (line.type, line.message, line.field) == (
        type(error).__name__,
        error.message,
        error.field,
    )
    failure = domain_failure(error)
    assert (failure.type, failure.message, failure.non_retryable) == (
        type(error).__name__,
        error.message,
        True,
    )


def test_the_api_does_not_name_the_other_tenant_of_a_customer() -> None:
    error = TenantMismatch("acme", "globex")
    body = json.loads(domain_problem(error).body)
    assert body == {
        "type": "TenantMismatch",
        "title": "Conflict",
        "status": 409,
        "detail": "customer_id: already registered elsewhere",
        "field": "customer_id",
    }
    # The operator's CLI and the activity's failure keep the whole message.
    assert "globex" in to_cli_error(error).message
    assert "globex" in domain_failure(error).message
