"""The bench's progress display: one bar across models and stages, one for the current stage.

Shown with rich on stderr only when enabled and stderr is a terminal; otherwise every method is a no-op.
Training runs with ``progress=False`` (rich allows one live display at a time), so during ``fit`` a small
background thread advances the stage bar by wall time against the budget.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["BenchProgress", "STAGES"]

STAGES = ("fit", "evaluate", "steps sweep", "plots")


class BenchProgress:
    def __init__(self, enabled: bool, n_models: int):
        self.bar = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not (enabled and sys.stderr.isatty()):
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.total = self.bar.add_task("bench", total=n_models * len(STAGES) + 1)
        self.stage = self.bar.add_task("", total=1)

    def __enter__(self) -> BenchProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_ticker()
        if self.bar is not None:
            self.bar.stop()

    def start(self, model: str, stage: str, budget: float | None = None) -> None:
        """Begin ``stage`` of ``model``; with ``budget`` the stage bar fills with elapsed seconds."""
        if self.bar is None:
            return
        self._stop_ticker()
        self.bar.update(self.total, description=f"bench: {model}")
        self.bar.reset(self.stage, total=budget or 1, completed=0, description=f"  {stage}")
        if budget:
            self._stop.clear()
            t0 = time.perf_counter()

            def tick():
                while not self._stop.wait(0.2):
                    self.bar.update(self.stage, completed=min(budget, time.perf_counter() - t0))

            self._thread = threading.Thread(target=tick, daemon=True)
            self._thread.start()

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self._stop_ticker()
            self.bar.advance(self.total, n)

    def _stop_ticker(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
