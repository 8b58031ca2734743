"""``atai://``: the Archetype AI Files API as an fsspec filesystem."""

from __future__ import annotations

import os
import weakref
from typing import Any

from ..errors import ConfigurationError
from ..http import HttpClient, Timeouts, check_endpoint
from ..targets.atai import DEFAULT_ENDPOINT, AtaiApi, AtaiUploadTarget
from .base import UploadFileSystem

__all__ = ["ATAIFileSystem"]

#: Extra connections beyond the part PUTs, for control-plane calls made meanwhile.
_CONTROL_CONNECTIONS = 4


class ATAIFileSystem(UploadFileSystem):
    """fsspec filesystem for the Archetype AI Files API (protocol ``atai``).

    ``atai://NAME`` is the API file named ``NAME``; names may contain ``/``, which
    fsspec shows as pseudo-directories, as object stores do.

    Parameters
    ----------
    api_key:
        The organisation's API key; defaults to the ``ATAI_API_KEY`` environment
        variable.  Sent only to ``endpoint_url``'s host, never to storage URLs.
    endpoint_url:
        API base URL; defaults to ``ATAI_API_ENDPOINT``, then to the public service.
    max_concurrency:
        Part PUTs in flight at once across all uploads of this filesystem.
    allow_http:
        Permit a plain ``http://`` endpoint on a non-loopback host (off by default, since
        the key would travel unencrypted).
    **kwargs:
        Engine options of :class:`~atai_fs.fs.base.UploadFileSystem`
        (``spool_threshold``, ``chunk_size``, ``retry``, ...) and fsspec's own.
    """

    protocol = ("atai",)
    root_marker = ""

    def __init__(
        self,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int = 8,
        *,
        allow_http: bool = False,
        verify_tls: bool = True,
        timeouts: Timeouts | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_concurrency=max_concurrency, **kwargs)
        self.api_key = api_key or os.environ.get("ATAI_API_KEY") or None
        endpoint = endpoint_url or os.environ.get("ATAI_API_ENDPOINT") or DEFAULT_ENDPOINT
        self.endpoint_url = check_endpoint(endpoint, allow_http=allow_http)
        self.http = HttpClient(
            api_base=self.endpoint_url,
            api_key=self.api_key,
            pool_size=self.transfer.max_concurrency + _CONTROL_CONNECTIONS,
            timeouts=timeouts,
            verify_tls=verify_tls,
        )
        self.api = AtaiApi(self.http)
        weakref.finalize(self, self.http.close_all_sync)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return f"ATAIFileSystem(endpoint_url={self.endpoint_url!r}, api_key=<{key}>)"

    def _require_key(self) -> None:
        if not self.api_key:
            raise ConfigurationError(
                "no Archetype AI API key: set the ATAI_API_KEY environment variable, or pass "
                "api_key=... (storage_options={'api_key': ...} in pandas and Dask)"
            )

    def _make_target(
        self,
        path: str,
        *,
        file_type: str | None = None,
        content_type: str | None = None,
        **_: Any,
    ) -> AtaiUploadTarget:
        self._require_key()
        return AtaiUploadTarget(self.api, path, file_type=file_type or content_type)
