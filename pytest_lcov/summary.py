"""What the terminal shows: the one-line summary, the gates, the per-file table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pytest_lcov.model import Totals, format_totals, percent
from pytest_lcov.report import FileSummary
from pytest_lcov.tracefile import safe_field

METRICS = {
    "lines": ("lines_hit", "lines_found"),
    "functions": ("functions_hit", "functions_found"),
    "branches": ("branches_hit", "branches_found"),
}


def shown(path: Path) -> str:
    """`path` as the user would type it from here."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith(os.pardir) else relative


def _counts(totals: Totals, metric: str) -> tuple[int, int]:
    hit_name, found_name = METRICS[metric]
    return getattr(totals, hit_name), getattr(totals, found_name)


def summary_line(output: Path, totals: Totals) -> str:
    """One line: where the file went, and each metric as hit/total (percent)."""
    return f"LCOV written to {shown(output)}: {format_totals(totals)}"


def missed_gates(totals: Totals, thresholds: dict[str, float]) -> list[str]:
    """One line per gate the totals miss: metric, value, threshold.

    The value is the written file's, compared unrounded; a gate on a metric
    with nothing measured (branches without --lcov-branch) is missed too,
    since it cannot be checked.
    """
    lines = []
    for metric, threshold in thresholds.items():
        hit, found = _counts(totals, metric)
        flag = f"--lcov-fail-under-{metric}={threshold:g}"
        if not found:
            lines.append(f"pytest-lcov: FAIL {metric} coverage: nothing measured, so {flag} cannot be met")
        elif hit * 100 < threshold * found:
            lines.append(f"pytest-lcov: FAIL {metric} coverage {percent(hit, found)}% is under {flag}")
    return lines


def table(files: Sequence[FileSummary], totals: Totals) -> list[str]:
    """A per-file table like pytest-cov's term-missing, with functions and branches."""
    with_branches = totals.branches_found > 0
    header = ["File", "Lines", "Cover", "Funcs", "Cover"] + (["Branches", "Cover"] if with_branches else [])
    rows = [header]
    for entry in [*files, FileSummary("TOTAL", totals, "")]:
        row = [safe_field(entry.path)]  # no escape sequence from a file name reaches the terminal
        for metric in ("lines", "functions", "branches") if with_branches else ("lines", "functions"):
            hit, found = _counts(entry.totals, metric)
            row += [f"{hit}/{found}", f"{percent(hit, found)}%" if found else "-"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    missing = [entry.missing for entry in files] + [""]
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        text = "  ".join(cells)
        if index == 0:
            text += "  Missing"
        elif missing[index - 1]:
            text += "  " + missing[index - 1]
        lines.append(text.rstrip())
        if index == 0:
            rule = "-" * len(text)
        if index in (0, len(rows) - 2):
            lines.append(rule)
    return lines
