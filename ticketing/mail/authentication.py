"""Sender authentication from the Authentication-Results header of a trusted MTA (RFC 8601)."""

from __future__ import annotations

import authres


def authenticated(headers: tuple[str, ...], authserv_id: str | None, sender: str) -> bool:
    """Whether the topmost Authentication-Results header by `authserv_id` shows `dmarc=pass`
    or a `dkim=pass` whose signing domain is aligned with the From address (relaxed)."""
    if not authserv_id:
        return False
    domain = sender.rpartition("@")[2].lower()
    for value in headers:
        try:
            parsed = authres.parse_value(value)
        except Exception:  # noqa: BLE001 - a malformed header is no evidence
            continue
        if str(parsed.authserv_id).lower() != authserv_id.lower():
            continue
        # Only the topmost header of the trusted MTA counts: anything below it came with the
        # message and may be forged.
        return any(_passes(result, domain) for result in parsed.results)
    return False


def _passes(result: authres.core.BaseAuthenticationResult, domain: str) -> bool:
    if str(result.result).lower() != "pass":
        return False
    method = str(result.method).lower()
    if method == "dmarc":
        return True
    if method != "dkim":
        return False
    signer = next(
        (str(p.value).lower() for p in result.properties if (p.type, p.name) == ("header", "d")),
        "",
    )
    return bool(signer) and (domain == signer or domain.endswith("." + signer))
