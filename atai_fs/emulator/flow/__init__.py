"""Emulator of the flow engine's controller API (Pupload v1) and its object store.

A real ``aiohttp.web`` server on loopback implementing ``shared/spec/flow-presigned-put.md``:
``POST /api/v1/flow/test`` starts a run of an inline flow definition (one ``WaitingURL``
per ``upload`` data well), ``GET /api/v1/flow/status/{id}`` reports it, and the
presigned ``PutURL``s take each input in one ``PUT``; once every input has arrived the
run leaves ``WAITING``, its nodes run (``RUNNING``) and it ends ``COMPLETE``::

    from atai_fs.emulator.flow import FlowEmulator

    with FlowEmulator() as emu:
        emu.endpoint_url              # "http://127.0.0.1:PORT/api/v1"
        emu.runs                      # run id -> run JSON now
        emu.uploaded(run_id, edge)    # the bytes stored for an edge, or None
        emu.store.read(bucket, name)  # any object of the store
        emu.stats.requests_by_route   # {"flow_test": 1, "flow_status": 3, "storage_put": 1}
        emu.faults.add(route="storage_put", action="reset", times=2)

``atai-fs serve flow`` runs :func:`serve_flow` in the foreground (default port 1234,
the engine's).  Faults (:class:`FlowFault`) take the routes ``flow_test``,
``flow_status``, ``storage_put`` and every emulator's actions
(:class:`~atai_fs.emulator._shared.faults.BaseFault`; ``status`` faults on controller
routes answer plain text, as the controller would).

CHOICES for the spec's open points (section 10) and other unstated details. The real
engine may differ; clients must not depend on any of these.

1. Signatures: ``PutURL`` is the shared presigned storage's
   ``{origin}/storage/{BUCKET}/{OBJECT}?X-Amz-Expires={unix expiry}&X-Amz-Signature={hex}``
   (HMAC-SHA256 over method, path and expiry with a per-emulator secret), not SigV4.
   Altered URL: 403 ``SignatureDoesNotMatch``; expired: 403 ``AccessDenied`` "Request has
   expired"; an ``Authorization`` header: 400 ``InvalidArgument``; no length or a chunked
   body: 411 ``MissingContentLength``; over ``max_object_size`` (5 GiB): 400
   ``EntityTooLarge``, all as S3 XML. Success: 200, empty body, ``ETag: "<md5 hex>"``.
   Characters of an object name outside ``[A-Za-z0-9_.-/]`` become ``_`` in the URL path
   (the ``ObjectName`` reported stays as expanded).
2. Expiry: ``on_expiry="wait"`` (default, faithful): an expired entry stays in
   ``WaitingURLs`` forever. ``on_expiry="error"``: the next pass turns the run ``ERROR``
   (unfinished nodes ``ERROR`` with the reason).
3. Error bodies: ``error_style="code"`` (default, faithful): plain text + newline, unknown
   run = 400 ``Flow run does not exist.`` followed by the zero-value run JSON;
   ``"plain"``: the same without the appended JSON; ``"docs"``: ``{"error": ...}`` JSON and
   404 for an unknown run. A body Go's decoder refuses (not UTF-8 JSON, nested over 64
   levels, an integer over 64 digits, a value of the wrong type for its field, such as a
   string for ``Flow`` or a float for ``MaxAttempts``): 400 ``Invalid input``; a refused
   flow: 500 ``unable to run flow: <reason>``; unknown routes (``/upload`` included): 404
   ``404 page not found``; wrong method: 405 with no body.
4. Detection: ``detect_interval=0`` (default): one scheduler pass per status call of that
   run (and one when the run starts), so after the upload the next status shows the edge
   in ``Artifacts`` and the run ``RUNNING``, the one after ``COMPLETE``. ``> 0``: a pass over
   every run each ``detect_interval`` seconds (the engine: 10), status calls do not step.
5. Purge: ``purge_finished=False`` (default): ``COMPLETE``/``ERROR`` runs stay readable.
   ``True``: the pass after a run finished forgets it (then 400 as for an unknown id).
6. Re-upload: a PUT to a URL still valid overwrites the object, also after the edge was
   detected; runs already past that edge are unaffected.
7. Empty file: a 0-byte PUT stores an empty object and satisfies the well (no MIME sniff).
8. Content-Type: never checked; kept as sent in ``emu.store.get(...).content_type``.
   Objects are not readable over HTTP (the engine's clients never read them).
9. ETag: quoted MD5 hex; storage errors are S3 XML.
10. ``POST /upload`` and ``/upload/{id}/{edge}``: 404 ``404 page not found``.
11. Run ids: UUIDv7 strings.

Also: nodes do not execute; a dispatched node completes on the next pass and its outputs
appear in ``Artifacts`` as ``<Edge>_<RunID>`` in the output's store (or ``DefaultStore``,
or the first store), with no object behind them. ``static`` wells need their ``Key`` to
exist in the store already (e.g. uploaded by an earlier run), else 500. Node defs must be
supplied for every node's ``Uses`` (``<Publisher>/<Name>``; ``DefName`` is accepted too);
``Tier``, ``Image``, ``Flags`` and ``Command`` are not checked. Stores must be ``s3`` with a
``BucketName``; unknown ``Params`` keys are refused. There is no 60 s handler timeout.
"""

from .app import build_flow_app
from .config import FlowEmulatorConfig
from .faults import FlowFault, FlowFaultInjector, parse_flow_fault
from .server import FlowEmulator, serve_flow

__all__ = [
    "FlowEmulator",
    "FlowEmulatorConfig",
    "FlowFault",
    "FlowFaultInjector",
    "build_flow_app",
    "parse_flow_fault",
    "serve_flow",
]
