"""``atai-fs demo``: a DataFrame round trip through an embedded emulator.

No API key or network needed: the emulator runs in a background thread on loopback,
and the DataFrame goes through exactly the code path a real upload takes
(``to_parquet("atai://...")`` -> initiate -> parallel part PUTs -> complete).
"""

from __future__ import annotations

import time
from typing import Any

from .emulator import ATAIEmulator
from .fs.atai import ATAIFileSystem

__all__ = ["run_demo"]

_DEMO_PART_SIZE = 4 << 20


def _frame(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2026)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=rows, freq="ms"),
            "sensor": rng.choice(["imu-0", "imu-1", "cam-0", "radar"], rows),
            "value": rng.normal(size=rows),
            "quality": rng.integers(0, 100, rows, dtype="int16"),
        }
    )


def _mib(size: float) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def run_demo(rows: int = 1_000_000, *, echo: Any = print) -> None:
    """Write, list, read back and compare a DataFrame; raise if anything differs."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - the demo extra installs pandas
        raise ImportError("the demo needs pandas and pyarrow: pip install 'atai-fs[demo]'") from exc

    with ATAIEmulator(part_size=_DEMO_PART_SIZE) as emulator:
        echo(f"emulator   : Files API emulator at {emulator.endpoint_url}")
        options: dict[str, Any] = {
            "api_key": emulator.api_key,
            "endpoint_url": emulator.endpoint_url,
        }
        url = "atai://demo/measurements.parquet"

        frame = _frame(rows)
        echo(f"dataframe  : {rows:,} rows x {frame.shape[1]} columns")

        started = time.perf_counter()
        frame.to_parquet(url, storage_options=options)
        written = time.perf_counter() - started
        stats = emulator.stats
        echo(
            f"write      : df.to_parquet({url!r}) in {written:.2f}s: "
            f"{stats.part_puts} part PUTs ({_mib(_DEMO_PART_SIZE)} parts, up to "
            f"{stats.max_puts_in_flight} in flight), {stats.api_requests} API calls"
        )

        fs = ATAIFileSystem(
            api_key=emulator.api_key,
            endpoint_url=emulator.endpoint_url,
            skip_instance_cache=True,
        )
        for entry in fs.ls("atai://demo/", detail=True):
            echo(
                f"listing    : atai://{entry['name']}  {_mib(entry['size'])}  "
                f"{entry.get('file_type')}  {entry.get('file_status')}"
            )

        started = time.perf_counter()
        back = pd.read_parquet(url, storage_options=options)
        read = time.perf_counter() - started
        echo(f"read back  : pd.read_parquet({url!r}) in {read:.2f}s")

        pd.testing.assert_frame_equal(back, frame)
        size = fs.size(url)
        echo(
            f"result     : identical DataFrame; {_mib(size)} uploaded at "
            f"{size / written / (1 << 20):.0f} MiB/s"
        )
