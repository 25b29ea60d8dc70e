"""A poor man's sampling profiler for the bench worker: every `interval` seconds it records the
Python stack of every busy thread (threads parked in a selector, lock or queue wait are skipped).

Enabled by BENCH_PROFILE=<path> in the worker's environment; written as text when it stops.
The SDK's Rust core threads are invisible to it: it shows where *Python* time goes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

IDLE_LEAVES = {
    ("selectors.py", "select"), ("threading.py", "wait"), ("queue.py", "get"),
    ("thread.py", "_worker"), ("base_events.py", "_run_once"),
    ("threading.py", "_wait_for_tstate_lock"),
}


def _key(frame) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return (Path(frame.f_code.co_filename).name, frame.f_code.co_name)


class Sampler:
    def __init__(self, path: str, interval: float = 0.005) -> None:
        self.path = path
        self.interval = interval
        self.samples = 0
        self.busy = 0
        self.self_counts: Counter[str] = Counter()
        self.cumulative: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-sampler")

    def _label(self, frame) -> str:  # type: ignore[no-untyped-def]
        code = frame.f_code
        parts = Path(code.co_filename).parts
        short = "/".join(parts[-2:])
        return f"{short}:{code.co_name}"

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            time.sleep(self.interval)
            self.samples += 1
            for ident, frame in sys._current_frames().items():
                if ident == me or _key(frame) in IDLE_LEAVES:
                    continue
                self.busy += 1
                self.self_counts[self._label(frame)] += 1
                seen: set[str] = set()
                caller: FrameType | None = frame
                while caller is not None:
                    label = self._label(caller)
                    if label not in seen:
                        self.cumulative[label] += 1
                        seen.add(label)
                    caller = caller.f_back

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        lines = [f"samples {self.samples} (every {self.interval * 1000:.0f} ms), busy thread-"
                 f"samples {self.busy}", "", "top self (leaf) frames:"]
        lines += [f"{n:>7} {n / max(self.busy, 1):6.1%}  {k}"
                  for k, n in self.self_counts.most_common(40)]
        lines += ["", "top cumulative frames:"]
        lines += [f"{n:>7} {n / max(self.busy, 1):6.1%}  {k}"
                  for k, n in self.cumulative.most_common(80)]
        Path(self.path).write_text("\n".join(lines) + "\n")
