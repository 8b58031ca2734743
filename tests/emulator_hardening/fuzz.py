"""Sending the corpus of every route of a running emulator and judging each answer."""

from __future__ import annotations

import http.client
import itertools
from dataclasses import dataclass, field

from .apis import FuzzedApi, Served
from .corpus import VALID_TEMPLATE, RouteCorpus, Template
from .wire import Answer, Probe, Wire


@dataclass
class FuzzReport:
    sent: int = 0
    routes: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    templates: dict[str, int] = field(default_factory=dict)
    """Route name -> the status of its valid template (proof the corpus reaches it)."""

    def summary(self, shown: int = 30) -> str:
        lines = self.failures[:shown]
        more = len(self.failures) - len(lines)
        return "\n".join([*lines, *([f"... and {more} more"] if more > 0 else [])])


def judge(api: FuzzedApi, route: str, probe: Probe, answer: Answer) -> str | None:
    """Why ``answer`` breaks the guarantee (None: it keeps it)."""
    if b"Traceback" in answer.body:
        return f"{answer.status} leaks a traceback"
    if answer.status >= 500 and not api.prescribed_5xx(route, answer):
        return f"{answer.status} {answer.body[:300]!r}"
    if probe.framing:
        return None if 400 <= answer.status < 500 else f"{answer.status} to invalid HTTP"
    if answer.status >= 400:
        problem = api.error_problem(probe, answer)
        if problem is not None:
            return f"{answer.status}, {problem}"
    return None


def fuzz(
    api: FuzzedApi, emulator: Served, base_url: str, *, random_probes: int, every: int = 1
) -> FuzzReport:
    """Send the corpus of every route ``emulator`` serves (fresh live resources for each
    route, so one route's probes cannot starve the next), then a healthy round.

    ``every=n`` sends only every n-th probe of each route (its valid template first).
    """
    report = FuzzReport()
    with Wire(base_url) as wire:
        for route in emulator.routes():
            seed = api.seed(wire, emulator)
            template = api.templates(seed).get(route.name or "", Template())
            path = route.resource.canonical if route.resource is not None else ""
            in_api = path.startswith(api.api_prefix + "/")
            corpus = RouteCorpus(
                route,
                template,
                seed,
                # Storage URLs carry their signature: a bearer key there is S3's 400.
                lambda in_api=in_api: api.base_headers(emulator) if in_api else {},
                random_probes=random_probes,
            )
            report.routes.add(f"{route.method} {path}")
            for probe in itertools.islice(corpus.probes(), 0, None, every):
                report.sent += 1
                try:
                    answer = wire.send(probe)
                except (OSError, http.client.HTTPException) as exc:
                    report.failures.append(f"{route.name}: {probe}: no answer ({exc!r})")
                    continue
                if probe.case == VALID_TEMPLATE and route.name in api.templates(seed):
                    report.templates[route.name] = answer.status
                problem = judge(api, route.name or "", probe, answer)
                if problem is not None:
                    report.failures.append(f"{route.name}: {probe}: {problem}")
        api.seed(wire, emulator)  # still serving well-formed requests
    return report
