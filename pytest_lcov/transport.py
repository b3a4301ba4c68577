"""What a pytest-xdist worker sends the controller, typed at both ends.

execnet carries only plain data (bytes, text, numbers, lists, dicts), so a
worker's result goes as a dict under keys of ours in ``workeroutput``, as
xdist itself sends reports (``serialize_report``/``unserialize_report``).
Both ends use this module, so the two can never disagree on a key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DATA_KEY = "pytest_lcov_data"
ERROR_KEY = "pytest_lcov_error"
COUNTS_KEY = "pytest_lcov_counts"
LEFT_OUT_KEY = "pytest_lcov_left_out"  # sources whose names coverage.py cannot store


@dataclass(frozen=True)
class WorkerResult:
    """One worker's measurement: its coverage data (``CoverageData.dumps()``) and what goes with it."""

    data: bytes
    left_out: tuple[str, ...] = ()  # see analysis.collected_data
    execution_counts: Mapping[str, Any] = field(default_factory=dict)  # executions.plain_counts, when counted
    children: tuple[str, ...] = ()  # files child processes ran: their executions are not counted

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            DATA_KEY: self.data,
            # execnet sends text as UTF-8: names that are not go as bytes.
            LEFT_OUT_KEY: [os.fsencode(name) for name in self.left_out],
        }
        if self.execution_counts or self.children:
            wire[COUNTS_KEY] = {
                "execution_counts": dict(self.execution_counts),
                "children": list(self.children),
            }
        return wire


@dataclass(frozen=True)
class WorkerLoss:
    """A worker that sent no data: its tests' lines are missing from the report, and the run says so."""

    worker: str
    why: str


def error_to_wire(exc: Exception) -> dict[str, Any]:
    """What a worker sends when it could not collect its data."""
    return {ERROR_KEY: f"{type(exc).__name__}: {exc}"}


def from_wire(worker: str, output: Mapping[str, Any]) -> WorkerResult | WorkerLoss:
    """A worker's ``workeroutput`` read back: its result, or why there is none."""
    blob = output.get(DATA_KEY)
    if blob is None:
        return WorkerLoss(worker, output.get(ERROR_KEY) or "it did not finish")
    counted = output.get(COUNTS_KEY) or {}
    return WorkerResult(
        data=blob,
        left_out=tuple(os.fsdecode(name) for name in output.get(LEFT_OUT_KEY, ())),
        execution_counts=counted.get("execution_counts", {}),
        children=tuple(counted.get("children", ())),
    )


@dataclass
class WorkerResults:
    """The controller's inbox: filled as workers finish, read once by the report at session end."""

    received: list[WorkerResult] = field(default_factory=list)
    lost: list[WorkerLoss] = field(default_factory=list)

    def add(self, item: WorkerResult | WorkerLoss) -> None:
        if isinstance(item, WorkerResult):
            self.received.append(item)
        else:
            self.lost.append(item)
