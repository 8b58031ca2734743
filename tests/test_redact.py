"""Secrets never reach logs, messages or reprs: one place redacts them."""

from __future__ import annotations

from atai_fs.redact import redact_text, redact_url


def test_presigned_url_keeps_host_and_path_but_no_query_values():
    url = "https://bucket.s3.amazonaws.com/upload/7?X-Amz-Credential=AKIA&X-Amz-Signature=deadbeef"
    redacted = redact_url(url)
    assert redacted.startswith("https://bucket.s3.amazonaws.com/upload/7?")
    assert "deadbeef" not in redacted
    assert "AKIA" not in redacted
    assert "X-Amz-Signature=***" in redacted


def test_text_loses_keys_bearer_tokens_and_url_signatures():
    text = (
        "Authorization: Bearer abc.def and key sk-live-123 at "
        "http://h/storage/1?X-Amz-Signature=feedface"
    )
    out = redact_text(text, ["sk-live-123"])
    for secret in ("abc.def", "sk-live-123", "feedface"):
        assert secret not in out
