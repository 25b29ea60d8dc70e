"""The workflows' retry policies name every domain error as non-retryable, including errors of
modules the activities do not otherwise import."""

from __future__ import annotations

import importlib
import pkgutil

import ticketing
from activities.tickets import NON_RETRYABLE_ERRORS
from ticketing.core.errors import non_retryable_error_types


def test_every_domain_error_is_non_retryable() -> None:
    for module in pkgutil.walk_packages(ticketing.__path__, "ticketing."):
        importlib.import_module(module.name)
    missing = sorted(set(non_retryable_error_types()) - set(NON_RETRYABLE_ERRORS))
    assert missing == [], f"import their modules in activities/tickets.py: {missing}"
