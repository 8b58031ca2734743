"""Fixtures for the flow target: an emulated flow controller and a filesystem on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from atai_fs import RetryPolicy
from atai_fs.emulator.flow import FlowEmulator
from atai_fs.fs.flow import FlowFileSystem

#: Fast retries: the behaviour is the same, the tests stay quick.
FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05, deadline=30)

STORE = {
    "Name": "uploads",
    "Type": "s3",
    "Params": {
        "Endpoint": "s3.example.com",
        "BucketName": "my-uploads",
        "AccessKey": "AKIA-EXAMPLE",
        "SecretKey": "not-a-secret",
        "Secure": True,
    },
}
NODE_DEFS = [
    {
        "Publisher": "pupload",
        "Name": "ffmpeg",
        "Image": "ghcr.io/pupload/ffmpeg:latest",
        "Inputs": [{"Name": "in", "Type": ["image/*"]}],
        "Outputs": [{"Name": "out", "Type": ["image/*"]}],
        "Command": {"Name": "resize", "Exec": "ffmpeg -i {{in}} {{out}}"},
        "MaxAttempts": 3,
    },
    {
        "Publisher": "pupload",
        "Name": "join",
        "Image": "ghcr.io/pupload/join:latest",
        "Command": {"Name": "join", "Exec": "join {{image}} {{table}} {{out}}"},
    },
]


def image_resize_flow(**well: Any) -> dict[str, Any]:
    """The spec's example: one upload well feeding one node."""
    return {
        "Name": "image-resize",
        "Stores": [STORE],
        "DataWells": [{"Edge": "image-input", "Store": "uploads", "Source": "upload", **well}],
        "Nodes": [
            {
                "ID": "resize",
                "Uses": "pupload/ffmpeg",
                "Inputs": [{"Name": "in", "Edge": "image-input"}],
                "Outputs": [{"Name": "out", "Edge": "resized"}],
            }
        ],
    }


def two_input_flow() -> dict[str, Any]:
    """Two upload wells feeding one node: the run waits until both arrived."""
    return {
        "Name": "image-and-table",
        "Stores": [STORE],
        "DataWells": [
            {"Edge": "image-input", "Store": "uploads", "Source": "upload"},
            {"Edge": "table-input", "Store": "uploads", "Source": "upload"},
        ],
        "Nodes": [
            {
                "ID": "join",
                "Uses": "pupload/join",
                "Inputs": [
                    {"Name": "image", "Edge": "image-input"},
                    {"Name": "table", "Edge": "table-input"},
                ],
                "Outputs": [{"Name": "out", "Edge": "joined"}],
            }
        ],
    }


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., FlowEmulator]]:
    """Start flow emulators with custom options; all are stopped at teardown."""
    started: list[FlowEmulator] = []

    def make(**options: Any) -> FlowEmulator:
        emulator = FlowEmulator(**options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., FlowEmulator]) -> FlowEmulator:
    return make_emulator()


def make_flow_fs(emulator: FlowEmulator, **options: Any) -> FlowFileSystem:
    options.setdefault("retry", FAST_RETRY)
    return FlowFileSystem(endpoint_url=emulator.endpoint_url, skip_instance_cache=True, **options)


@pytest.fixture
def fs(emulator: FlowEmulator) -> FlowFileSystem:
    return make_flow_fs(emulator)


@pytest.fixture
def run_id(fs: FlowFileSystem) -> str:
    """A run of the two-input flow, waiting for both inputs."""
    return fs.start_run(two_input_flow(), NODE_DEFS)["ID"]
