"""The object store behind the flow emulator's upload URLs: one bucket per flow store."""

from __future__ import annotations

import re

from .._shared.storage import MAX_KEY_BYTES, PresignedStorage, StoredObject
from .definition import FlowInvalid

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FlowStore:
    """The S3-like store behind the URLs: one bucket per flow store, objects by name.

    Objects live in the shared :class:`~atai_fs.emulator._shared.storage.PresignedStorage`
    under the key ``BUCKET/OBJECT_NAME``, each character outside ``[A-Za-z0-9_.-/]``
    replaced by ``_`` (template expansions such as ``${TIMESTAMP}`` hold ``:``).
    """

    def __init__(self, storage: PresignedStorage, max_object_size: int) -> None:
        self.storage = storage
        self.max_object_size = max_object_size

    @staticmethod
    def key(bucket: str, object_name: str) -> str:
        segments = [_UNSAFE.sub("_", part) for part in f"{bucket}/{object_name}".split("/")]
        return "/".join(s if s not in (".", "..") else s.replace(".", "_") for s in segments if s)

    def open_for_upload(self, bucket: str, object_name: str) -> str:
        """Accept PUTs of the object (any length up to the single-PUT limit); its key."""
        key = self.key(bucket, object_name)
        if len(key) > MAX_KEY_BYTES:
            # The URL could not be set up: the controller's 500 (spec section 1).
            raise FlowInvalid(
                f"object {object_name[:60]!r}... in bucket {bucket!r} is a key longer than "
                f"S3's {MAX_KEY_BYTES} bytes"
            )
        self.storage.reserve(key, None, max_length=self.max_object_size)
        return key

    def get(self, bucket: str, object_name: str) -> StoredObject | None:
        """The stored object, or None (what the engine's stat of the object tells it)."""
        return self.storage.get(self.key(bucket, object_name))

    def read(self, bucket: str, object_name: str) -> bytes:
        """The object's bytes; ``FileNotFoundError`` when it was never uploaded."""
        stored = self.get(bucket, object_name)
        if stored is None:
            raise FileNotFoundError(f"no object {object_name!r} in bucket {bucket!r}")
        return stored.path.read_bytes()
