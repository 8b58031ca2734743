"""TTLs as Go writes them: RFC 3339 with nanoseconds and any offset."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from atai_fs.targets.flow import parse_rfc3339

NOON_UTC = datetime(2026, 3, 3, 19, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-03T19:00:00Z", NOON_UTC),
        ("2026-03-03T11:00:00-08:00", NOON_UTC),
        ("2026-03-03T20:30:00+01:30", NOON_UTC),
        ("2026-03-03T11:00:00.123456789-08:00", NOON_UTC + 0.123456789),
        ("2026-03-03T19:00:00.5Z", NOON_UTC + 0.5),
    ],
)
def test_go_timestamps_parse_to_unix_time(text, expected):
    assert parse_rfc3339(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-03-03 19:00", "2026-03-03T19:00:00"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_a_malformed_ttl_from_the_server_is_a_protocol_error():
    from atai_fs import ProtocolError
    from atai_fs.targets.flow import FlowRun

    run = {
        "ID": "r",
        "Status": "WAITING",
        "WaitingURLs": [
            {
                "Artifact": {"StoreName": "s", "ObjectName": "o", "EdgeName": "e"},
                "PutURL": "https://s3.example.com/b/o?X-Amz-Signature=abc",
                "TTL": "in an hour",
            }
        ],
    }
    with pytest.raises(ProtocolError, match="not RFC 3339"):
        FlowRun.from_json(run, "reading run r")
