"""xarray writes a zarr store under an atai:// prefix and reads it back.

zarr 3 needs an asynchronous filesystem: given a URL (or a mapper) it builds its own
``asynchronous=True`` instance from the storage options, on its own event loop.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import stored_names

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")

pytestmark = [pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")]


@pytest.fixture
def dataset() -> xr.Dataset:
    rng = np.random.default_rng(3)
    return xr.Dataset(
        {
            "temperature": (("time", "station"), rng.random((48, 5))),
            "valid": (("time",), rng.random(48) > 0.2),
        },
        coords={"time": np.arange(48), "station": np.arange(100, 105)},
        attrs={"source": "emulator"},
    )


@pytest.fixture
def options(emulator) -> dict[str, str]:
    return {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}


def test_to_zarr_by_url_round_trips(emulator, dataset, options):
    dataset.to_zarr(
        "atai://zarr/weather.zarr", storage_options=options, mode="w", encoding=chunked(dataset)
    )
    names = stored_names(emulator)
    assert "zarr/weather.zarr/zarr.json" in names
    assert any(name.startswith("zarr/weather.zarr/temperature/c/") for name in names)
    back = xr.open_zarr("atai://zarr/weather.zarr", storage_options=options)
    xr.testing.assert_identical(back.load(), dataset)


def test_to_zarr_through_a_mapper_round_trips(fs, dataset):
    dataset.to_zarr(fs.get_mapper("zarr/mapped.zarr"), mode="w")
    back = xr.open_zarr(fs.get_mapper("zarr/mapped.zarr"))
    xr.testing.assert_identical(back.load(), dataset)


def test_rewriting_a_store_replaces_it(emulator, dataset, options):
    url = "atai://zarr/weather.zarr"
    dataset.to_zarr(url, storage_options=options, mode="w")
    smaller = dataset.isel(time=slice(0, 10))
    smaller.to_zarr(url, storage_options=options, mode="w")
    xr.testing.assert_identical(xr.open_zarr(url, storage_options=options).load(), smaller)


def chunked(dataset: xr.Dataset) -> dict[str, dict[str, tuple[int, ...]]]:
    """Several chunks per variable, so the store holds many small files."""
    return {"temperature": {"chunks": (12, 5)}}
