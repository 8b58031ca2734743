"""Client programs, each run alone in a subprocess by :mod:`benchmarks.runner`.

``python -m benchmarks.clients KIND 'PARAMS-JSON'`` imports only the module of ``KIND``
(so the official client's process never loads aiohttp, nor atai_fs's loads requests),
runs it, and prints one JSON line: ``wall`` (seconds of the timed section), ``bytes``,
``cpu`` (user+sys of the whole process at the end), ``cpu_timed`` (of the timed
section), ``rss`` (peak, bytes), ``errors`` and up to a few ``error_messages``.

Every client is a function ``(params, stopwatch) -> Outcome`` that prepares what it
needs, wraps only the work being compared in ``with stopwatch:``, and returns what it
sent and how many operations failed.
"""

CLIENTS = {
    "atai_put_file": "benchmarks.clients.atai:put_file",
    "atai_put_many": "benchmarks.clients.atai:put_many",
    "atai_stream": "benchmarks.clients.atai:stream",
    "atai_parquet": "benchmarks.clients.atai:to_parquet",
    "official_upload": "benchmarks.clients.official:upload",
    "official_upload_many": "benchmarks.clients.official:upload_many",
    "official_parquet": "benchmarks.clients.official:to_parquet",
    "raw_put_file": "benchmarks.clients.raw:put_file",
    "fleet": "benchmarks.clients.fleet:run",
    "atai_put_worker": "benchmarks.clients.atai:put_worker",
    "official_upload_worker": "benchmarks.clients.official:upload_worker",
}
"""KIND -> ``module:function``, imported lazily."""
