"""Benchmarks of atai_fs against the official ``archetypeai`` client and a raw ceiling.

``python -m benchmarks`` (``make bench``) runs every scenario at full size; see
``benchmarks/README.md``. Layout, one job per module:

- :mod:`.cli`: command-line options, then runs the suite.
- :mod:`.suite`: for each scenario, starts its emulators, runs the cases interleaved,
  prints the table and writes ``results/<scenario>.json``.
- :mod:`.scenarios`: what each scenario uploads, with which clients and emulator options.
- :mod:`.datafiles`: generated input files (random bytes, many small files).
- :mod:`.emulator`: the emulator subprocess seen from the harness (stats, CPU time).
- :mod:`.serve_emulator`: the emulator subprocess itself, with a stats side channel.
- :mod:`.runner`: one client run in its own subprocess, merged with emulator counters.
- :mod:`.clients`: the client programs (``python -m benchmarks.clients KIND PARAMS``).
- :mod:`.report`: medians, ratios and the plain-text tables.
- :mod:`.machine`: the machine description stored with the results.

Measurement only: nothing here asserts a timing.
"""
