"""From run records to medians, ratios and one aligned plain-text table per scenario."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .scenarios import Plan

Record = dict[str, Any]
MiB = 1 << 20


@dataclass(frozen=True)
class Metric:
    header: str
    value: Callable[[Record], float]
    digits: int
    higher_is_better: bool = False


def _wall(r: Record) -> float:
    return r["client"].get("wall", float("nan"))


def _completed(r: Record) -> float:
    """Files stored: completed direct uploads and one-request simple uploads alike."""
    return r["emulator"]["files_published"]


def _per_second(amount: float, r: Record) -> float:
    wall = _wall(r)
    return amount / wall if wall > 0 else float("nan")


def _share_429(r: Record) -> float:
    """Per cent of the control-plane requests that were answered 429."""
    calls = r["emulator"]["api_requests"]
    return 100 * r["emulator"]["rate_limited"] / calls if calls else float("nan")


def _link_share(r: Record) -> float:
    """The share of the emulated link's bandwidth the run used."""
    link = r.get("link_bandwidth")
    if not link:
        return float("nan")
    return _per_second(r["emulator"]["bytes_received"], r) / link


METRICS = {
    "wall": Metric("wall s", _wall, 2),
    "mbps": Metric(
        "MB/s", lambda r: _per_second(r["emulator"]["bytes_received"] / 1e6, r), 1, True
    ),
    "cpu": Metric("CPU s", lambda r: r["client"].get("cpu", float("nan")), 2),
    "rss": Metric("RSS MiB", lambda r: r["client"].get("rss", float("nan")) / MiB, 1),
    "emu_cpu": Metric("emu CPU s", lambda r: r["emulator"]["cpu"], 2),
    "api": Metric("API req", lambda r: r["emulator"]["api_requests"], 0),
    "puts": Metric("PUTs", lambda r: r["emulator"]["requests_by_route"].get("storage_put", 0), 0),
    "inflight": Metric("max in flight", lambda r: r["emulator"]["max_puts_in_flight"], 0),
    "link": Metric("of link", _link_share, 2, True),
    "settled": Metric("settled at", lambda r: r["client"].get("concurrency", float("nan")), 0),
    "r429": Metric("429s", lambda r: r["emulator"]["rate_limited"], 0),
    "r429_share": Metric("429 %", lambda r: _share_429(r), 1),
    "errors": Metric("errors", lambda r: r["client"].get("errors", 0), 0),
    "files_ok": Metric("files stored", _completed, 0, True),
    "files_per_s": Metric("files/s", lambda r: _per_second(_completed(r), r), 1, True),
    "orphans": Metric("orphans", lambda r: r["emulator"]["upload_states"].get("in_progress", 0), 0),
}


def summarise(plan: Plan, runs: list[Record]) -> list[dict[str, Any]]:
    """Per case, in plan order: the median of every metric over its runs, then the ratios."""
    rows = []
    for case in plan.cases:
        mine = [r for r in runs if r["case"] == case.label]
        medians = {name: _median([m.value(r) for r in mine]) for name, m in METRICS.items()}
        rows.append(
            {
                "case": case.label,
                "role": case.role,
                "group": case.group,
                "runs": len(mine),
                "median": medians,
            }
        )
    for row in rows:
        row["ratios"] = {}
        for role in plan.baselines:
            base = next((b for b in rows if b["role"] == role and b["group"] == row["group"]), None)
            mine, theirs = (
                row["median"][plan.ratio_metric],
                base and base["median"][plan.ratio_metric],
            )
            row["ratios"][role] = mine / theirs if theirs else float("nan")
    return rows


def _median(values: list[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def table(plan: Plan, rows: list[dict[str, Any]], repeat: int) -> str:
    """The scenario's table: medians of ``repeat`` interleaved runs, then a ratio per baseline."""
    ratio_header = METRICS[plan.ratio_metric].header.split()[0]
    headers = ["case", *(METRICS[c].header for c in plan.columns)]
    headers += [f"{ratio_header} ÷ {role}" for role in plan.baselines]
    body = []
    for row in rows:
        cells = [row["case"]]
        cells += [_format(row["median"][c], METRICS[c].digits) for c in plan.columns]
        cells += [_format(row["ratios"][role], 2) + "x" for role in plan.baselines]
        body.append(cells)
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    better = "higher" if METRICS[plan.ratio_metric].higher_is_better else "lower"
    runs = f"{repeat} interleaved run" + ("s" if repeat != 1 else "")
    ratio = f"; ratio: {better} is better" if plan.baselines else ""
    out = [plan.title, f"(median of {runs}{ratio})", ""]
    out += [line(headers), "  ".join("-" * w for w in widths), *map(line, body)]
    out += [f"  note: {note}" for note in plan.notes]
    return "\n".join(out)


def _format(value: float, digits: int) -> str:
    if value != value:
        return "-"
    return f"{value:,.{digits}f}"
