"""What an ETag may tell about the bytes a part PUT delivered, learned as uploads go.

S3 answers a part PUT with the MD5 of the bytes it stored, quoted, for unencrypted and
SSE-S3 buckets, so comparing it with the MD5 of the bytes sent catches a corrupted
transfer and the part is sent again.  But ETags are opaque by contract: buckets with
SSE-KMS or SSE-C, and several S3-compatible stores, answer 32 hex digits that are not
an MD5.  A client that trusts them fails every upload there.

``verify_etag`` therefore has three modes:

* ``"auto"`` (the default): compare while ETags match.  On a mismatch the part is sent
  once more.  If the resent part's ETag is again not its MD5, corruption twice in a row
  is far less likely than a storage whose ETags are not MD5s: one WARNING says so, and
  mismatches no longer resend parts for this filesystem.  If the resend's ETag is its
  MD5, the first transfer was corrupted and has been repaired; checking goes on.  And
  should any later ETag be the MD5 of its part after all (an opaque ETag is one in 2^128
  times), the storage computes MD5s and checking resumes.
* ``True`` (strict): every mismatch resends the part, until the retry policy gives up.
* ``False``: ETags are never compared.

Whatever the mode, the whole-file CRC32C the API asks for at complete (where its
``integrity_algorithm`` is ``crc32c``) is always sent, so the API still checks the file.
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

__all__ = ["EtagCheck", "EtagMode", "Verdict"]

log = logging.getLogger("atai_fs")

EtagMode = Literal["auto"] | bool

#: What to do with one part's answer: keep the token, or send the part again.
Verdict = Literal["keep", "resend"]


class EtagCheck:
    """The ETag policy of one filesystem, shared by all its uploads (thread-safe)."""

    def __init__(self, mode: EtagMode = "auto") -> None:
        self.mode = mode
        self._opaque = False
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether the MD5 of each part is computed and compared with its ETag."""
        return self.mode is not False

    @property
    def found_opaque(self) -> bool:
        """Whether ``auto`` concluded that this storage's ETags are not MD5s."""
        return self._opaque

    def judge(self, *, matches: bool, resent_before: bool, where: str) -> Verdict:
        """The verdict on a part whose ETag ``matches`` (or not) the MD5 of the bytes
        sent; ``resent_before`` says whether this part was already resent for a
        mismatch; ``where`` names the part in the WARNING."""
        if matches:
            if self._opaque:
                with self._lock:
                    self._opaque = False  # an opaque ETag that is the MD5: it never is
                log.info("%s: the storage's ETags are MD5s after all; checking them again", where)
            return "keep"
        if not self.active or self._opaque:
            return "keep"
        if self.mode is True or not resent_before:
            return "resend"
        with self._lock:
            first = not self._opaque
            self._opaque = True
        if first:
            log.warning(
                "%s: the storage answered ETags that are not the MD5 of the bytes sent, "
                "twice for the same part; its ETags are opaque (as with SSE-KMS or SSE-C "
                "encryption), so they are no longer compared for this filesystem. The "
                "whole-file CRC32C is still checked where the API offers it; pass "
                "verify_etag=False (-o verify_etag=false with the atai-fs command) to skip "
                "the comparison from the start",
                where,
            )
        return "keep"
