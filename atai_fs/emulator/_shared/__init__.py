"""What every emulator is built from, whatever API it speaks.

- :mod:`.server`: the application served from a background thread or in the foreground.
- :mod:`.storage`: the S3-like object store behind HMAC-signed, expiring presigned URLs.
- :mod:`.scratch`: the one-run folders under ``data_dir``, emptied only if an emulator
  created them.
- :mod:`.faults` (which fault fires), :mod:`.fault_text` (its ``key=value`` text) and
  :mod:`.injection` (making it happen).
- :mod:`.shaping` and :mod:`.pacing`: latency and bandwidth caps on loopback.
- :mod:`.transfer` and :mod:`.ranges`: request and response bodies, read and written
  under the plan the shaping and fault middlewares set.
- :mod:`.ratelimit`: the token buckets of a documented rate limit.
- :mod:`.stats`: live counters read from test threads.
- :mod:`.errors`: what every API's error answers share, and the storage's S3 XML.
- :mod:`.middleware`: the middlewares every app is assembled from.
- :mod:`.config`: the options every emulator takes.
- :mod:`.context`: the key under which an application keeps its handlers' context.
"""
