"""SLA windows and the thresholds a watcher fires in them: warnings at percentages, breaches."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["LEGACY_WARNING_PERCENT", "SlaWindow", "Threshold", "ThresholdKind"]

# The percentage the unnumbered "<window>_warning" kinds stand for: stored rows and saved
# histories name the single default warning that way, so it must keep meaning 75 %.
LEGACY_WARNING_PERCENT = 75

_KIND = re.compile(r"^(?P<window>[a-z_]+?)(?:_warning(?:_(?P<percent>[1-9][0-9]*))?)?$")


class SlaWindow(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_REPLY = "next_reply"
    RESOLUTION = "resolution"
    # Last: thresholds at one instant fire in this order, as they did before it existed.
    KEEP_IN_LOOP = "keep_in_loop"


@dataclass(frozen=True, order=True)
class ThresholdKind:
    """A warning at `percent` of a window's target, or (percent None) the window's breach."""

    window: SlaWindow
    percent: int | None = None

    def __post_init__(self) -> None:
        if self.percent is not None and (
            isinstance(self.percent, bool) or not 1 <= self.percent <= 100
        ):
            raise ValueError(f"percent must be in 1..100, got {self.percent!r}")

    @classmethod
    def breach(cls, window: SlaWindow) -> ThresholdKind:
        return cls(window, None)

    @classmethod
    def warning(cls, window: SlaWindow, percent: int = LEGACY_WARNING_PERCENT) -> ThresholdKind:
        return cls(window, percent)

    @property
    def is_breach(self) -> bool:
        return self.percent is None

    @classmethod
    def parse(cls, text: str) -> ThresholdKind:
        """Parse `first_response`, `resolution_warning`, `next_reply_warning_90`, …"""
        match = _KIND.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"unknown threshold kind {text!r}")
        try:
            window = SlaWindow(match["window"])
        except ValueError:
            raise ValueError(f"unknown threshold kind {text!r}") from None
        if not text.endswith("_warning") and match["percent"] is None:
            return cls.breach(window)
        percent = int(match["percent"] or LEGACY_WARNING_PERCENT)
        kind = cls(window, percent)
        # One spelling per kind: "x_warning_75" would record the same threshold twice.
        if str(kind) != text:
            raise ValueError(f"threshold kind {text!r} is spelled {str(kind)!r}")
        return kind

    def __str__(self) -> str:
        if self.percent is None:
            return self.window.value
        if self.percent == LEGACY_WARNING_PERCENT:
            return f"{self.window.value}_warning"
        return f"{self.window.value}_warning_{self.percent}"


@dataclass(frozen=True)
class Threshold:
    kind: ThresholdKind
    at: datetime
