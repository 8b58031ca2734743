"""Runs scenarios: data, emulators, interleaved client runs, table, results file."""

from __future__ import annotations

import json
import shutil
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import report
from .emulator import EmulatorProcess
from .machine import describe
from .runner import run_case
from .scenarios import Scenario

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class SuiteOptions:
    scale: float
    repeat: int
    workdir: Path
    timeout: float
    """Seconds one client run may take before it is killed and counted as failed."""


def run(scenarios: list[Scenario], options: SuiteOptions) -> None:
    machine = describe(options.workdir)
    for scenario in scenarios:
        result = run_scenario(scenario, options, machine)
        repeat = result["options"]["repeat"]
        print(report.table(result["plan"], result["summary"], repeat), flush=True)
        print(flush=True)
        _write(scenario.name, result, options.workdir)


def run_scenario(
    scenario: Scenario, options: SuiteOptions, machine: dict[str, Any]
) -> dict[str, Any]:
    """Cases run A B C A B C ... against emulators started once for the scenario."""
    workdir = options.workdir / scenario.name
    workdir.mkdir(parents=True)
    try:
        _progress(f"{scenario.name}: preparing data")
        plan = scenario.build(workdir, options.scale)
        runs = []
        temp_dir = workdir / "tmp"  # the clients' TMPDIR, beside their inputs
        temp_dir.mkdir()
        repeat = min(options.repeat, plan.max_repeat or options.repeat)
        with ExitStack() as stack:
            emulators = {
                name: stack.enter_context(
                    EmulatorProcess({**opts, "data_dir": str(workdir / f"emulator-{i}")})
                )
                for i, (name, opts) in enumerate(plan.emulators.items())
            }
            for repetition in range(repeat):
                for case in plan.cases:
                    time.sleep(plan.settle_seconds)
                    record = run_case(
                        case, emulators[case.emulator], options.timeout, temp_dir=temp_dir
                    )
                    link = plan.emulators[case.emulator].get("link_bandwidth")
                    runs.append({"repetition": repetition, "link_bandwidth": link, **record})
                    _progress(
                        f"{scenario.name} {repetition + 1}/{repeat} {case.label}: "
                        f"{record['client'].get('wall', float('nan')):.2f} s, "
                        f"errors {record['client'].get('errors')}"
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "scenario": scenario.name,
        "summary_text": scenario.summary,
        "plan": plan,
        "machine": machine,
        "options": {"scale": options.scale, "repeat": repeat},
        "runs": runs,
        "summary": report.summarise(plan, runs),
    }


def _write(name: str, result: dict[str, Any], workdir: Path) -> None:
    """The results file; the run's work directory is written ``<workdir>``, so the file
    says nothing of the machine's paths."""
    RESULTS.mkdir(exist_ok=True)
    plan = result["plan"]
    document = {
        **{k: v for k, v in result.items() if k != "plan"},
        "title": plan.title,
        "emulators": plan.emulators,
        "cases": [asdict(case) for case in plan.cases],
        "ratio_metric": plan.ratio_metric,
        "notes": list(plan.notes),
    }
    path = RESULTS / f"{name}.json"
    text = json.dumps(document, indent=2, default=str).replace(str(workdir), "<workdir>")
    path.write_text(text + "\n")
    _progress(f"{name}: raw results in {path}")


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
