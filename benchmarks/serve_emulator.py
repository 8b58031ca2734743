"""The emulator subprocess: ``python -m benchmarks.serve_emulator '{"part_size": ...}'``.

Runs :class:`atai_fs.emulator.ATAIEmulator` with the JSON keyword arguments given, and a
second loopback HTTP server (the stats side channel, so benchmark bookkeeping never
shows up in the emulator's own counters, latency or rate limit):

- ``POST /mark``: zero the emulator's counters and remember which uploads exist now.
- ``GET /stats``: the counters since the mark, plus the states of uploads started since.

Prints one JSON line (``endpoint_url``, ``api_key``, ``stats_url``) once both listen,
and stops when its stdin closes, so it never outlives the harness.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from atai_fs.emulator import ATAIEmulator


class _Ledger:
    """Counters and upload states since the last mark."""

    def __init__(self, emulator: ATAIEmulator) -> None:
        self._emulator = emulator
        self._lock = threading.Lock()
        self._known: set[str] = set()

    def mark(self) -> None:
        with self._lock:
            self._emulator.stats.reset()
            self._known = set(self._emulator.uploads)

    def report(self) -> dict[str, Any]:
        with self._lock:
            known = self._known
        uploads = self._emulator.uploads
        states = Counter(view.state for uid, view in uploads.items() if uid not in known)
        return {**self._emulator.stats.snapshot(), "upload_states": dict(states)}


def _handler_for(ledger: _Ledger) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/stats":
                self._answer(ledger.report())
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            if self.path == "/mark":
                ledger.mark()
                self._answer({})
            else:
                self.send_error(404)

        def _answer(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the harness reads stderr only when something failed."""

    return Handler


def main(argv: list[str]) -> None:
    options = json.loads(argv[1]) if len(argv) > 1 else {}
    with ATAIEmulator(**options) as emulator:
        ledger = _Ledger(emulator)
        side = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(ledger))
        threading.Thread(target=side.serve_forever, name="stats", daemon=True).start()
        ready = {
            "endpoint_url": emulator.endpoint_url,
            "api_key": emulator.api_key,
            "stats_url": f"http://127.0.0.1:{side.server_address[1]}",
        }
        print(json.dumps(ready), flush=True)
        try:
            sys.stdin.read()  # EOF: the harness is done (or gone)
        finally:
            side.shutdown()


if __name__ == "__main__":
    main(sys.argv)
