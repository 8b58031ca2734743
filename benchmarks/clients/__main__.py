"""``python -m benchmarks.clients KIND 'PARAMS-JSON'``: run one client, print its JSON line."""

from __future__ import annotations

import importlib
import json
import logging
import sys

from . import CLIENTS
from .measure import Stopwatch, print_report


def main(argv: list[str]) -> None:
    kind, params = argv[1], json.loads(argv[2])
    # The official client logs a warning per retried request; the counts are what matter.
    logging.basicConfig(level=logging.ERROR)
    module_name, function_name = CLIENTS[kind].split(":")
    client = getattr(importlib.import_module(module_name), function_name)
    stopwatch = Stopwatch()
    outcome = client(params, stopwatch)
    print_report(outcome, stopwatch)


if __name__ == "__main__":
    main(sys.argv)
