"""What the terminal shows: the one-line summary, the gates, the per-file table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pytest_lcov.coverage_internals import Numbers, display_covered
from pytest_lcov.coverage_settings import coverage_total
from pytest_lcov.differential import CATEGORIES, DifferentialReport
from pytest_lcov.differential import METRICS as CATEGORY_METRICS
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
            lines.append(f"FAIL {metric} coverage: nothing measured, so {flag} cannot be met")
        elif hit * 100 < threshold * found:
            lines.append(f"FAIL {metric} coverage {percent(hit, found)}% is under {flag}")
    return lines


def _percent(hit: int, found: int, precision: int) -> str:
    return f"{display_covered(hit * 100 / found, precision)}%" if found else "-"


def table(
    files: Sequence[FileSummary],
    totals: Totals,
    numbers: Numbers,
    precision: int = 0,
    skip_covered: bool = False,
    empty_skipped: int = 0,
) -> list[str]:
    """A per-file table like pytest-cov's term-missing, with functions and branches.

    It reads as ``coverage report --show-missing`` does with the same settings:
    the same files (``skip_covered`` leaves out those coverage.py counts as
    complete, `empty_skipped` are those ``skip_empty`` left out), the same
    Missing text, and coverage.py's per-file and total percentage ("Total",
    pytest-cov's "Cover"), every percentage with `precision` digits.
    """
    with_branches = totals.branches_found > 0
    metrics = ("lines", "functions", "branches") if with_branches else ("lines", "functions")
    header = ["File", "Lines", "Cover", "Funcs", "Cover"] + (["Branches", "Cover"] if with_branches else [])
    header.append("Total")  # coverage.py's: lines and branches together
    shown_files = [
        entry
        for entry in files
        if not (skip_covered and entry.numbers.n_missing == 0 and entry.numbers.n_partial_branches == 0)
    ]
    complete = len(files) - len(shown_files) + (empty_skipped if skip_covered else 0)

    def row_of(name: str, counts: Totals, total: float) -> list[str]:
        cells = [safe_field(name)]  # no escape sequence from a file name reaches the terminal
        for metric in metrics:
            hit, found = _counts(counts, metric)
            cells += [f"{hit}/{found}", _percent(hit, found, precision)]
        return [*cells, f"{display_covered(total, precision)}%"]

    rows = [header] + [row_of(entry.path, entry.totals, entry.numbers.pc_covered) for entry in shown_files]
    rows.append(row_of("TOTAL", totals, coverage_total(numbers)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    missing = [entry.missing_arcs for entry in shown_files] + [""]
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
    if complete:  # coverage.py's words, after a blank line as it writes them
        lines += ["", f"{_plural(complete, 'file')} skipped due to complete coverage."]
    if empty_skipped and not skip_covered:
        lines += ["", f"{_plural(empty_skipped, 'empty file')} skipped."]
    return lines


def categories_table(found: DifferentialReport) -> list[str]:
    """Each file's lines by differential category against the baseline, then the metrics' totals.

    The columns are the categories some line falls in, in genhtml's order of
    priority (UNC first); files whose lines are all unchanged and covered
    before and after (CBC alone) are left out, as complete ones are.
    """
    totals = found.totals
    used = [
        category
        for category in CATEGORIES
        if any(totals[metric].get(category) for metric in CATEGORY_METRICS)
    ]
    header = ["Against the baseline", *used]
    rows = [header]
    for name, entry in found.files.items():
        counts = entry.counts["lines"]
        if any(count for category, count in counts.items() if category != "CBC"):
            rows.append([safe_field(name), *(str(counts.get(category, 0)) for category in used)])
    rows.append(["TOTAL (lines)", *(str(found.totals["lines"].get(category, 0)) for category in used)])
    for metric in ("branches", "functions"):
        counts = found.totals[metric]
        if any(counts.values()):
            rows.append([f"TOTAL ({metric})", *(str(counts.get(category, 0)) for category in used)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("-" * len(lines[0]))
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
