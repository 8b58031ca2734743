"""The controller's two routes: start a run of an inline flow, report a run."""

from __future__ import annotations

import json

from aiohttp import web

from .._shared.bodies import MalformedBody, parse_json
from .._shared.storage import url_origin
from .context import context_of
from .definition import FlowInvalid, FlowUndecodable, parse_request
from .errors import styled_error, text_error
from .runs import ZERO_RUN


def add_routes(app: web.Application, api_prefix: str) -> None:
    app.router.add_post(f"{api_prefix}/flow/test", flow_test, name="flow_test")
    app.router.add_get(f"{api_prefix}/flow/status/{{run_id}}", flow_status, name="flow_status")


def _run_json(payload: object) -> web.Response:
    return web.Response(
        text=json.dumps(payload) + "\n", content_type="application/json", charset="utf-8"
    )


async def flow_test(request: web.Request) -> web.StreamResponse:
    context = context_of(request)
    style = context.config.error_style
    try:
        body = parse_json(await request.read())
    except MalformedBody:
        return styled_error(style, 400, "Invalid input")
    try:
        flow, _ = parse_request(body)
    except FlowUndecodable:
        return styled_error(style, 400, "Invalid input")
    except FlowInvalid as exc:
        return styled_error(style, 500, f"unable to run flow: {exc}")
    try:
        run = context.runs.create(flow, url_origin(request, context.config.public_url))
    except FlowInvalid as exc:
        return styled_error(style, 500, f"unable to run flow: {exc}")
    return _run_json(run.to_json())


async def flow_status(request: web.Request) -> web.StreamResponse:
    context = context_of(request)
    run = context.runs.visible(request.match_info["run_id"])
    if run is not None and context.config.detect_interval == 0:
        context.runs.step(run)
        if run.purged:
            run = None
    if run is None:
        style = context.config.error_style
        if style == "docs":
            return web.json_response({"error": "Flow run does not exist."}, status=404)
        message = "Flow run does not exist."
        if style == "code":
            # The handler does not return after http.Error: the zero-value run follows.
            message += "\n" + json.dumps(ZERO_RUN, separators=(",", ":"))
        return text_error(400, message)
    return _run_json(run.to_json())
