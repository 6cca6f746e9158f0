"""Progress a person can watch. The flows log each stage's count as it grows, with the count
attached to the log record; on a terminal the command shows the counts as live bars with rate
and time left (and hides those lines), elsewhere they stay log lines, one every few seconds."""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Seconds between two progress lines of one stage (the last count is always logged).
EVERY_SECONDS = 5.0


@dataclass
class StageProgress:
    """The count of one stage of a run (records read, documents cleaned or annotated)."""

    logger: logging.Logger | logging.LoggerAdapter
    stage: str
    total: int
    unit: str = "documents"
    done: int = 0
    _started: float = field(default_factory=lambda: time.monotonic())
    _logged: float = 0.0

    def __post_init__(self) -> None:
        self._logged = self._started

    def advance(self, n: int) -> None:
        """Count `n` more; log the count if the last line is a few seconds old or the stage is done."""
        self.done += n
        now = time.monotonic()
        if self.done >= self.total or now - self._logged >= EVERY_SECONDS:
            self._logged = now
            self.logger.info(self._line(now), extra={"progress": (self.stage, self.done, self.total)})

    def _line(self, now: float) -> str:
        line = f"{self.stage} {self.done:,}/{self.total:,} {self.unit}"
        elapsed = now - self._started
        if 0 < self.done < self.total and elapsed > 0:
            rate = self.done / elapsed
            line += f" ({rate:,.1f}/s, about {(self.total - self.done) / rate:,.0f}s left)"
        return line


class _Bars(logging.Handler):
    """Progress records as rich progress bars, one per stage, with the rate since the first."""

    def __init__(self, bars) -> None:
        super().__init__(level=logging.INFO)
        self.bars = bars
        self.stages: dict[str, int] = {}
        self.addFilter(lambda record: hasattr(record, "progress"))

    def emit(self, record: logging.LogRecord) -> None:
        stage, done, total = record.progress
        if stage not in self.stages:
            self.stages[stage] = self.bars.add_task(stage, total=total, rate="", started=time.monotonic())
        elapsed = time.monotonic() - self.bars.tasks[self.stages[stage]].fields["started"]
        rate = f"{done / elapsed:,.1f}/s" if elapsed > 0.5 and done < total else ""
        self.bars.update(self.stages[stage], completed=done, total=total, rate=rate)


def _above(bars, console_handler: logging.Handler):
    """A filter for a console handler: its lines printed above the bars (none by the handler)."""

    def print_above(record: logging.LogRecord) -> bool:
        if not hasattr(record, "progress"):
            bars.console.print(console_handler.format(record), markup=False, highlight=False)
        return False

    return print_above


@contextmanager
def live_progress(console) -> Iterator[None]:
    """While a command runs a flow: on a terminal, the flow's progress records as live bars
    (records cleaned, documents annotated) in place of their log lines."""
    if console is None or not console.is_terminal:
        yield
        return
    from prefect.logging.handlers import PrefectConsoleHandler
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn())
    bars = Progress(*columns, TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console)
    handler, flow_runs = _Bars(bars), logging.getLogger("prefect.flow_runs")
    consoles = {h: _above(bars, h) for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)}
    flow_runs.addHandler(handler)
    for console_handler, redirect in consoles.items():
        console_handler.addFilter(redirect)
    try:
        with bars:
            yield
    finally:
        flow_runs.removeHandler(handler)
        for console_handler, redirect in consoles.items():
            console_handler.removeFilter(redirect)
