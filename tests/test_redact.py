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


def test_a_short_key_is_redacted_as_a_token_never_inside_words():
    out = redact_text("check the key k (api_key=k) or the ATAI_API_KEY variable", ["k"])
    assert out == "check the key *** (api_key=***) or the ATAI_API_KEY variable"


def test_a_long_key_is_redacted_wherever_it_occurs():
    assert redact_text("key=sk-live-123456;xsk-live-123456", ["sk-live-123456"]) == ("key=***;x***")


def test_bearer_placeholder_in_server_advice_stays_intact():
    advice = "Send the header 'Authorization: Bearer <API key>'"
    assert redact_text(advice, ["test-key"]) == advice
    assert redact_text("Authorization: Bearer abc.def-_~+/==", []) == ("Authorization: Bearer ***")


def test_short_query_values_are_not_scrubbed_as_substrings():
    from atai_fs.redact import query_values

    assert query_values("http://h/p?part=3&X-Amz-Signature=deadbeefcafe") == ["deadbeefcafe"]
