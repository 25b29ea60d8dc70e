"""What a ticket search asks for, read from the text typed (no I/O).

- A ticket number (`TKT-000123`, `tkt-123`, `123`): that ticket.
- Text with an `@`: tickets of customers whose email starts with it (any case).
- Anything else: tickets whose title has every word typed ("fibre cut" finds "Fibre cut on
  Main Street", in any case); words are runs of letters and digits and match whole title
  words, without stemming (PostgreSQL's 'simple' configuration): "fibre" does not find
  "fibres", nor "rout" "router". (Prefixes would be possible with the same index, but the
  planner cannot estimate how many titles a prefix matches, and a wrong guess reads every
  match of a common prefix; whole words it estimates from the index's statistics.)
- And, whatever was typed: tickets of the customer with exactly that customer id.

Results are newest first (highest number first), like every list, so a search pages with the
same cursor; there is no relevance order (titles are a few words: newest is what an agent
looking for "no internet" wants).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = re.compile(r"^(?:TKT-?)?0*(\d{1,18})$", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
# A bound on the words one search ANDs together (the text itself is at most 200 characters).
MAX_WORDS = 8


@dataclass(frozen=True)
class SearchTerms:
    text: str
    number: int | None = None
    email_prefix: str | None = None
    # A PostgreSQL to_tsquery('simple', …) text: the words ANDed. Only letters and digits go
    # in, so no input can change the query's syntax.
    words: str | None = None


def search_terms(text: str) -> SearchTerms:
    """Which of number, email prefix and title words `text` asks for."""
    text = text.strip()
    number = _NUMBER.match(text)
    if number is not None and int(number.group(1)) > 0:
        return SearchTerms(text, number=int(number.group(1)))
    if "@" in text:
        return SearchTerms(text, email_prefix=text)
    words = _WORD.findall(text)[:MAX_WORDS]
    if not words:
        return SearchTerms(text)
    return SearchTerms(text, words=" & ".join(words))
