"""Checks before uploading: the monthly quota and duplicates by SHA-256."""

from __future__ import annotations

from aiohttp import web

from .config import BATCH_FILES
from .context import AionContext, context_of
from .errors import invalid
from .validation import SHA256_HEX, Problems, json_body


async def quota_check(request: web.Request) -> web.Response:
    ctx = context_of(request)
    raw = request.query.get("file_count")
    if raw is None:
        raise invalid(("query", "file_count"), "Field required", "missing")
    try:
        count = int(raw)
    except ValueError:
        raise invalid(
            ("query", "file_count"), "Input should be a valid integer", "int_parsing"
        ) from None
    if count < 1:
        raise invalid(("query", "file_count"), "Input should be greater than 0", "greater_than")
    quota = ctx.config.quota
    usage = ctx.workspace.usage
    available = (quota - usage) if quota is not None else 2**31 - 1
    can_proceed = available >= count
    return web.json_response(
        {
            "can_proceed": can_proceed,
            "requested": count,
            "available": max(available, 0),
            "monthly_limit": quota if quota is not None else -1,
            "current_usage": usage,
            "message": None
            if can_proceed
            else f"Only {max(available, 0)} uploads left this month; {count} requested",
            "prepaid_credits": 0,
            "max_batch_size": ctx.config.files_per_batch,
            "max_concurrent_uploads": BATCH_FILES[ctx.config.tier],
        }
    )


async def check_duplicates(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    hashes = body.get("hashes")
    if not isinstance(hashes, list) or not 1 <= len(hashes) <= 250:
        raise invalid(("body", "hashes"), "List should have 1 to 250 items", "too_long")
    problems = Problems()
    for i, h in enumerate(hashes):
        if not isinstance(h, str) or not SHA256_HEX.fullmatch(h.lower()):
            problems.add(("body", "hashes", i), "must be a SHA-256 hex digest", "string_pattern")
    problems.raise_if_any()
    stored = ctx.workspace.by_hash
    duplicates = [h for h in hashes if h.lower() in stored]
    unique = [h for h in hashes if h.lower() not in stored]
    return web.json_response({"duplicates": duplicates, "unique": unique})


def quota_problem(ctx: AionContext) -> str | None:
    """Why no further upload may count against this month's quota, or None."""
    quota = ctx.config.quota
    if quota is not None and ctx.workspace.usage >= quota:
        return f"Monthly upload quota of {quota} files is used up"
    return None
