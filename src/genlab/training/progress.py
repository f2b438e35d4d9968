"""A rich progress bar for the training loop, shown only when asked for and stderr is a terminal."""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    def __init__(self, enabled: bool, label: str, total: int | None, budget: float | None):
        self.bar = None
        if not (enabled and sys.stderr.isatty()):
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), transient=True)
        self.by_time = total is None
        self.task = self.bar.add_task(label, total=budget if self.by_time else total, info="")
        self.bar.start()

    def update(self, step: int, elapsed: float, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=elapsed if self.by_time else step, info=f"step {step} loss {loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
