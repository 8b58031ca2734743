"""Every route of every emulator, read from its router, answers a corpus of malformed
requests with no 5xx (beyond the ones its spec prescribes), with the spec's error body on
every 4xx, and keeps serving well-formed requests after it: in-process, and as users
run it, ``atai-fs serve`` in a subprocess."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from .apis import APIS, FuzzedApi
from .fuzz import fuzz

ROOT = Path(__file__).resolve().parents[2]

REQUESTS_PER_API = 2500
"""The corpus's budget: a bound on what one API's fuzz sends (a few seconds on loopback)."""

pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader")
"""aiohttp warns of the corpus's broken ``Content-Disposition`` headers as it reads them."""

_BUG_LOG = "emulator error on"
"""What the error middleware logs for an exception nobody raised on purpose."""


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
def test_every_route_answers_malformed_requests_with_a_4xx_in_the_specs_body(
    api: FuzzedApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="atai_fs.emulator")
    with api.start(tmp_path) as emulator:
        report = fuzz(api, emulator, f"http://127.0.0.1:{emulator.port}", random_probes=6)
        routes = {f"{r.method} {r.resource.canonical}" for r in emulator.routes() if r.resource}
    assert not report.failures, report.summary()
    assert report.routes == routes  # every route of the router, none skipped
    assert report.sent <= REQUESTS_PER_API
    assert not [r for r in caplog.records if _BUG_LOG in r.getMessage()]


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
def test_the_corpus_reaches_every_route_it_has_a_template_for(api, tmp_path) -> None:
    """A guard on the fuzz itself: each valid template passes auth and routing, so the
    malformed variants of it are judged by the handler, not refused at the door."""
    with api.start(tmp_path) as emulator:
        report = fuzz(api, emulator, f"http://127.0.0.1:{emulator.port}", random_probes=0)
    refused = {route: s for route, s in report.templates.items() if s in (401, 403, 404, 405)}
    assert report.templates and not refused


# -- the same against ``atai-fs serve`` -----------------------------------------------------
@dataclass(frozen=True)
class ServedProcess:
    """An emulator in a subprocess, seen as the fuzz needs it: its key and its routes
    (those of the same application built in this process)."""

    api_key: str
    route_list: list[web.AbstractRoute]

    def routes(self) -> list[web.AbstractRoute]:
        return self.route_list


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(api)``: ``atai-fs serve API`` on a free port; its process and base URL."""
    processes: list[subprocess.Popen[str]] = []

    def start(api: FuzzedApi, api_key: str | None) -> tuple[subprocess.Popen[str], str]:
        command = [sys.executable, "-m", "atai_fs.cli", "serve", api.name, "--port", "0"]
        command += ["--data-dir", str(tmp_path / "data")]
        if api_key is not None:
            command += ["--api-key", api_key]
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
        with open(tmp_path / "serve.log", "w") as log:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=environment
            )
        processes.append(process)
        assert process.stdout is not None
        banner = process.stdout.readline()
        found = re.search(r"http://[^/\s]+", banner)
        assert found, f"no endpoint in {banner!r}: {(tmp_path / 'serve.log').read_text()}"
        return process, found.group(0)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
def test_atai_fs_serve_survives_the_corpus_and_still_serves(api, serve, tmp_path) -> None:
    with api.start(tmp_path / "routes") as local:  # the same app, for its router
        keyed = getattr(local.config, "api_key", None) is not None
        routes = local.routes()
    api_key = "fuzz-key" if keyed else None
    process, base_url = serve(api, api_key)
    served = ServedProcess(api_key or "", routes)
    report = fuzz(api, served, base_url, random_probes=1, every=4)
    assert not report.failures, report.summary()
    assert process.poll() is None, "the server process died"
    assert _BUG_LOG not in (tmp_path / "serve.log").read_text()
