"""Photo URLs in `image_path`: fetched once into a local photo store, then read like any photo file.

Real review exports name their photos by URL. `PhotoStore.fetch(urls)` downloads every `http://` and
`https://` URL that is not in the store yet, in parallel (a thread pool sharing one `httpx.Client`,
`workers` connections), with a progress bar, and gives back, per URL, the stored file or the reason it
could not be used. Each download has

- connect and read timeouts, and one deadline for the photo, every attempt and wait included
  (`mmsent.data.url_policy.photo_deadline`): each connect, TLS handshake, write and read waits at most the
  time left before it (`_DeadlineBackend`), so a server that trickles or stalls cannot hold a worker longer;
- the download policy (`mmsent.data.url_policy.check_url`) checked before the first request and before
  every redirect: private, link-local and metadata addresses are never requested, loopback only when the
  URL in the table names a loopback host; and the address each connection reached checked again
  (`check_peer`) before any body is read, so a name that resolves once to a public address and then to
  a private one (DNS rebinding) gets nothing;
- retries with exponential backoff (`backoff`, 2 x `backoff`, ...) on 5xx, 408, 429, timeouts and
  dropped connections; other 4xx answers are final;
- redirects followed (at most `MAX_REDIRECTS`), each one checked by the policy first;
- a size cap (`max_bytes`, checked against Content-Length first and then while streaming, after any
  gzip decoding), a content-type check (an HTML error page served with status 200 is not a photo), and
  then the same checks as a photo on disk (`mmsent.data.images.check_image`: decodes, pixel budget,
  decompression bombs, impossible shapes) before the file is kept.

Layout: ``<root>/<first 2 hex digits>/<sha256 of the URL>`` holds the photo's bytes, written
atomically (a temporary file in the same folder, then a rename), so a second run, or a second process,
finds it and downloads nothing. A final failure (a 404, a web page, a file that is not an image, one
over the cap) is remembered beside it as ``<sha256>.failed`` (JSON) and reported again without a
request; delete that file to try again. What the store reads back is checked first: a stored photo must
be a regular file (not a link), and a record a regular file under 16 KiB holding the JSON the store
writes for that URL (`mmsent.data.photo_records`); anything else is reported (a warning naming the
file), not trusted, and the URL is asked again. Transient failures (timeouts, 5xx after every retry, network
errors) are not remembered: the next run asks again. `offline=True` makes no request at all: photos
already stored are used and every other URL is reported as needing a download.

Where it lives: `root`, else ``<feature cache>/photos`` (``MMSENT_CACHE_DIR``, see `mmsent.features.store`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import httpx
import pandas as pd

from mmsent.data.images import ImageProblem, check_image
from mmsent.data.photo_records import read_record, regular_file, remember
from mmsent.data.url_policy import (
    UrlRefused,
    check_peer,
    check_url,
    httpx_peer,
    names_loopback,
    photo_deadline,
)
from mmsent.errors import DataError
from mmsent.files.replace import written_aside
from mmsent.paths import default_cache_dir
from mmsent.progress import progress_bar

logger = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 20_000_000  # larger than any phone photo; a 20 MB "photo" is a mistake or an attack
MAX_REDIRECTS = 5
HTTP_URL = re.compile(r"(?i)^https?://")
# A body with one of these content types may be a photo; anything else (text/html, application/json,
# ...) is an error page or an API answer. No content type at all is left to the decoder.
PHOTO_TYPES = re.compile(r"(?i)^\s*(image/|application/octet-stream|binary/octet-stream|\s*$)")
RETRY_STATUS = frozenset({408, 429})  # besides every 5xx

# Problem names in `ReviewTable.problems`; a body that does not pass `check_image` gets its problem
# after the prefix: "photo download: not an image", "photo download: decompression bomb", ...
DOWNLOAD = "photo download: "  # the prefix of them all
HTTP_ERROR = DOWNLOAD + "HTTP error"
TIMED_OUT = DOWNLOAD + "timed out"
NETWORK_ERROR = DOWNLOAD + "connection failed"
TOO_LARGE = DOWNLOAD + "over the size cap"
NOT_A_PHOTO_TYPE = DOWNLOAD + "not an image content type"
OFFLINE = DOWNLOAD + "not allowed (offline)"
REFUSED = DOWNLOAD + "refused by the download policy"
REPORT_LINES = 200  # download failures listed one by one in `describe_download_failures`


class Fetched(NamedTuple):
    """What became of one URL: the stored file, or why there is none (`problem`, `detail`)."""

    path: str | None
    problem: str | None
    detail: str


class _Failure(Exception):
    """A download that failed; `transient` ones are retried and never remembered."""

    def __init__(self, problem: str, detail: str, transient: bool = False) -> None:
        super().__init__(detail)
        self.problem, self.detail, self.transient = problem, detail, transient


class PhotoStore:
    """A folder of downloaded photos, one file per URL; see the module docstring.

    Args:
        root: the folder (default: ``<feature cache>/photos``).
        offline: never download; URLs not in the store are reported as `OFFLINE`.
        workers: parallel downloads (connections).
        connect_timeout, read_timeout: seconds, per connection attempt and per read.
        deadline: seconds for one photo, every attempt and wait included (default: MMSENT_PHOTO_DEADLINE,
            else `mmsent.data.url_policy.DEFAULT_PHOTO_DEADLINE`).
        retries: further attempts after a transient failure.
        backoff: seconds before the first retry, doubled before each next one.
        max_bytes: the size cap of one photo.
        progress: show a progress bar while downloading.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        offline: bool = False,
        workers: int = 16,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        deadline: float | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        max_bytes: int = MAX_PHOTO_BYTES,
        progress: bool = True,
    ) -> None:
        self._root = None if root is None else Path(root)
        self.offline, self.workers, self.retries, self.backoff = offline, workers, retries, backoff
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self.deadline = photo_deadline(deadline)
        self.max_bytes, self.progress = max_bytes, progress
        self.counts: Counter[str] = Counter()  # of the last `fetch`: stored, downloaded, failed, ...

    @property
    def root(self) -> Path:
        """The store's folder; raises `DataError` when it has none (no `root` and the cache is off)."""
        if self._root is None:
            cache = default_cache_dir()
            if cache is None:
                raise DataError(
                    "The table names photos by URL, and there is no folder to store them in: the cache is "
                    "off (MMSENT_CACHE_DIR). Pass --photo-dir DIR (PhotoStore(root=DIR)) or set "
                    "MMSENT_CACHE_DIR to a folder."
                )
            self._root = cache / "photos"
        return self._root

    def path_for(self, url: str) -> Path:
        """Where the photo of `url` is (or would be) stored."""
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.root / key[:2] / key

    def fetch(self, urls: Iterable[str]) -> dict[str, Fetched]:
        """{url: Fetched} for each distinct URL, downloading those not stored yet (unless offline)."""
        results: dict[str, Fetched] = {}
        todo: list[str] = []
        self.counts = Counter()
        for url in dict.fromkeys(urls):
            known = self._known(url)
            if known is not None:
                results[url] = known
            elif self.offline:
                self.counts["offline"] += 1
                why = "--offline forbids downloads; run once without --offline to download it"
                results[url] = Fetched(None, OFFLINE, f"{url}: not in the photo store {self.root}, and {why}")
            else:
                todo.append(url)
        if todo:
            with _requests_unlogged():
                results.update(self._download_each(todo))
        if results:
            logger.info("photo URLs: %s", ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())))
        return results

    def _known(self, url: str) -> Fetched | None:
        """The stored photo or the remembered final failure of `url`, or None when it is new."""
        path = self.path_for(url)
        if regular_file(path):
            self.counts["already stored"] += 1
            return Fetched(str(path), None, "")
        record = path.with_suffix(".failed")
        if not (record.exists() or record.is_symlink()):
            return None
        if (failure := read_record(record, url, DOWNLOAD)) is None:
            return None
        self.counts["failed before"] += 1
        note = f"(remembered from an earlier run; delete {record} to try again)"
        return Fetched(None, failure[0], f"{failure[1]} {note}")

    def _download_each(self, urls: list[str]) -> dict[str, Fetched]:
        results: dict[str, Fetched] = {}
        started = time.perf_counter()
        limits = httpx.Limits(max_connections=self.workers, max_keepalive_connections=self.workers)
        headers = {"User-Agent": "mmsent photo store (+https://github.com/mmsent-course/mmsent)"}
        bar = progress_bar(desc="downloading photos", total=len(urls), enabled=self.progress)
        with (  # httpx follows no redirect by default: `_stream` does, each hop checked by the policy
            httpx.Client(timeout=self.timeout, limits=limits, headers=headers) as client,
            ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="photo") as pool,
        ):
            for transport in [client._transport, *client._mounts.values()]:  # direct, and the proxies'
                pool_of = getattr(transport, "_pool", None)  # httpcore's (else: each chunk is checked)
                if hasattr(pool_of, "_network_backend"):
                    pool_of._network_backend = _DeadlineBackend(pool_of._network_backend)
            futures = {pool.submit(self._download, client, url): url for url in urls}
            for future in as_completed(futures):
                results[futures[future]] = outcome = future.result()
                self.counts["downloaded" if outcome.path else "failed"] += 1
                bar.update(1)
        bar.close()
        seconds, workers = time.perf_counter() - started, self.workers
        logger.info("fetched %d photo URLs in %.1f s (%d workers)", len(urls), seconds, workers)
        return results

    def _download(self, client: httpx.Client, url: str) -> Fetched:
        """One URL, retried on transient failures; a final failure is remembered."""
        target = self.path_for(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        deadline = _DEADLINE.at = time.monotonic() + self.deadline  # this thread's photo, until it returns
        for attempt in range(self.retries + 1):
            try:
                self._attempt(client, url, target, deadline)
                return Fetched(str(target), None, "")
            except _Failure as failure:
                wait = self.backoff * 2**attempt
                if failure.transient and attempt < self.retries and time.monotonic() + wait < deadline:
                    time.sleep(wait)
                    continue
                tries = f" after {attempt + 1} attempts" if failure.transient and attempt else ""
                detail = f"{url}: {failure.detail}{tries}"
                if not failure.transient:
                    record = {"url": url, "problem": failure.problem, "detail": detail}
                    remember(target.with_suffix(".failed"), json.dumps(record).encode())
                return Fetched(None, failure.problem, detail)
        raise AssertionError("unreachable: the last attempt returns")

    def _attempt(self, client: httpx.Client, url: str, target: Path, deadline: float) -> None:
        """Download `url` into `target` once (through a temporary file), or raise `_Failure`."""
        try:
            with written_aside(target) as temporary:
                with open(temporary, "wb") as file:
                    self._stream(client, url, file, deadline)
                check_image(temporary)
        except ImageProblem as problem:
            detail = problem.detail or "the body does not decode as an image"
            raise _Failure(DOWNLOAD + problem.problem, detail) from problem

    def _stream(self, client: httpx.Client, url: str, file: BinaryIO, deadline: float) -> None:
        """Write the body of `url` to `file` (following redirects the policy allows), within the size cap
        and the photo's `deadline` (a `time.monotonic()` value), or raise `_Failure`."""
        loopback_ok, current = names_loopback(url), url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                check_url(current, loopback_ok)
                with client.stream("GET", current, timeout=self._timeout(deadline)) as response:
                    check_peer(current, httpx_peer(response), loopback_ok)  # the address connected
                    if response.is_redirect:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    _check_response(response, self.max_bytes)
                    self._write_body(response, file, deadline)
                    return
            raise _Failure(HTTP_ERROR, f"more than {MAX_REDIRECTS} redirects")
        except UrlRefused as refused:
            raise _Failure(REFUSED, str(refused)) from refused
        except httpx.TimeoutException as error:
            why = f"no answer in time ({type(error).__name__})"
            if time.monotonic() > deadline - 0.05:  # the wait was cut to the photo's time left
                why = f"the photo took over its deadline of {self.deadline:g} s"
            raise _Failure(TIMED_OUT, why, True) from error
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            raise _Failure(HTTP_ERROR, str(error)) from error
        except httpx.TransportError as error:
            raise _Failure(NETWORK_ERROR, f"{type(error).__name__}: {error}", True) from error

    def _timeout(self, deadline: float) -> httpx.Timeout:
        """The connect and read timeouts, cut to what is left of the photo's deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Failure(TIMED_OUT, f"the photo's deadline of {self.deadline:g} s passed", True)
        read, connect = self.timeout.read or left, self.timeout.connect or left
        return httpx.Timeout(min(read, left), connect=min(connect, left))

    def _write_body(self, response: httpx.Response, file: BinaryIO, deadline: float) -> None:
        size = 0
        for chunk in response.iter_bytes():  # as the bytes arrive: a trickle meets the deadline check
            size += len(chunk)
            if size > self.max_bytes:
                raise _Failure(TOO_LARGE, f"the body passed the cap of {self.max_bytes:,} bytes")
            if time.monotonic() > deadline:
                raise _Failure(TIMED_OUT, f"the photo took over its deadline of {self.deadline:g} s", True)
            file.write(chunk)


def _check_response(response: httpx.Response, max_bytes: int) -> None:
    """Raise `_Failure` for an error status, a content type that is no photo, or a size over the cap."""
    status = response.status_code
    if status >= 400:
        transient = status >= 500 or status in RETRY_STATUS
        raise _Failure(HTTP_ERROR, f"HTTP {status} {response.reason_phrase}".rstrip(), transient)
    content_type = response.headers.get("content-type", "")
    if not PHOTO_TYPES.match(content_type):
        raise _Failure(NOT_A_PHOTO_TYPE, f"the server sent {content_type!r}, not an image")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _Failure(TOO_LARGE, f"Content-Length {int(declared):,} bytes, over the cap of {max_bytes:,}")


def photo_url(cell: Any) -> str | None:
    """The stripped `http(s)://` URL in an `image_path` cell, or None for anything else."""
    url = cell.strip() if isinstance(cell, str) else ""
    return url if HTTP_URL.match(url) else None


def fetch_urls(cells: Iterable[Any], store: PhotoStore | None = None) -> dict[str, Fetched]:
    """{url: Fetched} for the `http(s)://` URLs among `image_path` cells ({} when none), in `store`
    (default `PhotoStore()`: the cache's photo folder, downloads allowed)."""
    urls = [url for url in map(photo_url, cells) if url is not None]
    if not urls:
        return {}
    return (store if store is not None else PhotoStore()).fetch(urls)


def describe_download_failures(problems: pd.DataFrame, limit: int = REPORT_LINES) -> str:
    """One line per row whose photo URL could not be used: row, review id, problem, URL and reason."""
    failed = problems[problems["problem"].str.startswith(DOWNLOAD)]
    if failed.empty:
        return ""
    lines = [f"  Photo URLs that could not be used ({len(failed)} row(s), kept text-only):"]
    for row, review_id, problem, detail in (
        failed[["row", "review_id", "problem", "detail"]].head(limit).itertuples(index=False)
    ):
        lines.append(f"    row {row} ({review_id}): {problem.removeprefix(DOWNLOAD)}: {detail}")
    if len(failed) > limit:
        lines.append(f"    ... and {len(failed) - limit} more: every one is in skipped_rows.csv")
    return "\n".join(lines)


_DEADLINE = threading.local()  # .at: the deadline (`time.monotonic()`) of the photo this thread downloads


def _left(timeout: float | None) -> float | None:
    """`timeout` cut to the time left before this thread's photo deadline (at least 1 ms, to time out)."""
    at = getattr(_DEADLINE, "at", None)
    left = None if at is None else max(at - time.monotonic(), 1e-3)
    return timeout if left is None else left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """An httpcore connection whose every read, write and TLS handshake waits at most the time left."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __getattr__(self, name: str) -> Any:  # close, get_extra_info: the connection's
        return getattr(self.stream, name)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _left(timeout))

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None):
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, _left(timeout)))


class _DeadlineBackend(_DeadlineStream):
    """httpcore's network backend, each connection it opens a `_DeadlineStream` (connecting included)."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, *args: Any, **kwargs: Any):
        return _DeadlineStream(self.stream.connect_tcp(host, port, _left(timeout), *args, **kwargs))


@contextmanager
def _requests_unlogged() -> Iterator[None]:
    """While photos download: no httpx log line per request (our summary says it once), unless the
    user has set httpx's logger level; the level is as it was afterwards."""
    log = logging.getLogger("httpx")
    if log.level != logging.NOTSET:  # the user's choice stands
        yield
        return
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(logging.NOTSET)
