"""Downloading one archive: resumed with HTTP Range requests, verified by size and a running MD5."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ...retry import call
from .spec import CocoError, Progress, say

CHUNK = 1 << 20

DOWNLOAD_ATTEMPTS = 5

RETRYABLE = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


class _EndedEarly(Exception):
    """The server's stream ended before its Content-Length (http.client does not raise for a short read)."""

    def __init__(self, at: int):
        super().__init__(f"stream ended early at byte {at:,}")
        self.at = at


class _PartFile:
    """The ``.part`` file and an MD5 of exactly the bytes it holds (so resuming never re-reads what is hashed)."""

    def __init__(self, path: Path):
        self.path, self.hasher, self.hashed = path, hashlib.md5(), 0

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def sync_hash(self) -> None:
        if self.hashed != self.size():  # first resume, or an earlier attempt died between write and hash
            self.hasher, self.hashed = _md5_of(self.path, self.size()), self.size()

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.hasher, self.hashed = hashlib.md5(), 0

    def append(self, chunk: bytes, handle) -> None:
        handle.write(chunk)
        self.hasher.update(chunk)
        self.hashed += len(chunk)


def _md5_of(path: Path, limit: int | None = None, report: Progress | None = None):
    hasher, done = hashlib.md5(), 0
    with open(path, "rb") as f:
        while limit is None or done < limit:
            chunk = f.read(CHUNK if limit is None else min(CHUNK, limit - done))
            if not chunk:
                break
            hasher.update(chunk)
            done += len(chunk)
            if report:
                report.update(done)
    return hasher


def _fetch_once(url: str, part: _PartFile, size: int | None, progress: bool) -> str:
    """One HTTP request appending to ``part``. Returns 'complete', 'short' (stream ended early) or 'exhausted'."""
    offset = part.size()
    headers = {"User-Agent": "yolov12-suite"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing after offset: the part is all the server has; verification decides
            return "exhausted"
        if e.code >= 500:  # server trouble is often passing: retried like a dropped connection
            raise
        raise CocoError(f"download failed: HTTP {e.code} {e.reason}", file=url, key="--download") from None
    with response:
        if offset and response.status == 200:  # server ignored Range: it sends the whole file again
            say(f"{url}: server does not resume (answered 200 to a Range request); restarting from byte 0", progress)
            part.restart()
            offset = 0
        elif offset and not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
            raise CocoError(f"asked for bytes {offset}- but the server answered Content-Range "
                            f"{response.headers.get('Content-Range')!r}", file=url, key="--download")
        length = response.headers.get("Content-Length")
        total = size if size is not None else (offset + int(length) if length else None)
        report = Progress(f"download {part.path.name[:-len('.part')]}", total, progress, unit_bytes=True)
        received = 0
        with open(part.path, "ab") as handle:
            while chunk := response.read(CHUNK):
                part.append(chunk, handle)
                received += len(chunk)
                report.update(offset + received)
    if length is not None and received < int(length):
        return "short"  # connection closed early; http.client does not raise for a short read(amt)
    return "complete"


def _mismatch(name: str, what: str, want: Any, found: Any, path: Path) -> CocoError:
    return CocoError(f"{name}: {what} mismatch: expected {want}, found {found}; delete the file and run again to "
                     "download it anew", file=path, key="--download")


def _check_size(path: Path, name: str, size: int | None) -> None:
    found = path.stat().st_size
    if size is not None and found != size:
        raise _mismatch(name, "size", f"{size} bytes", f"{found} bytes", path)


def _check_md5(path: Path, name: str, md5: str | None, actual: str) -> None:
    if md5 is not None and actual != md5.lower():
        raise _mismatch(name, "MD5", md5.lower(), actual, path)


def download(url: str, dest: str | Path, size: int | None = None, md5: str | None = None,
             progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial ``.part`` with an HTTP Range request.

    ``dest`` appears (atomic rename) only after its size and MD5 match; a mismatch raises ``CocoError`` naming the file,
    the expected and the actual value, and keeps the ``.part`` for inspection (nothing is deleted). An existing ``dest``
    is verified and returned without downloading.
    """
    dest = Path(dest)
    if dest.exists():
        _check_size(dest, dest.name, size)
        if md5 is not None:
            total = dest.stat().st_size
            report = Progress(f"verify MD5 of {dest.name}", total, progress and total > 100e6, unit_bytes=True)
            _check_md5(dest, dest.name, md5, _md5_of(dest, report=report).hexdigest())
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _PartFile(dest.with_suffix(dest.suffix + ".part"))

    def attempt() -> str:
        offset = part.size()
        if size is not None and offset >= size:  # already whole (or too long: the size check says so)
            return "complete"
        if offset:
            say(f"resuming {dest.name} at byte {offset:,}", progress)
        part.sync_hash()
        if _fetch_once(url, part, size, progress) == "short":
            raise _EndedEarly(part.size())
        return "complete"

    def on_retry(n: int, e: BaseException) -> None:
        if isinstance(e, _EndedEarly):
            say(f"{dest.name}: connection closed early at byte {e.at:,}; resuming", progress)
        else:
            say(f"{dest.name}: {e}; retrying ({n}/{DOWNLOAD_ATTEMPTS - 1})", progress)

    try:  # a dropped connection waits 2, 4, 8 ... s (at most 30); a stream that ended early resumes at once
        outcome = call(attempt, attempts=DOWNLOAD_ATTEMPTS, on_retry=on_retry,
                       transient=lambda e: isinstance(e, (*RETRYABLE, _EndedEarly)),
                       wait=lambda n, e: 0 if isinstance(e, _EndedEarly) else min(2**n, 30))
    except _EndedEarly:
        outcome = "short"
    except RETRYABLE as e:
        raise CocoError(f"download failed after {DOWNLOAD_ATTEMPTS} attempts ({e}); run again to resume from "
                        f"{part.path}", file=url, key="--download") from None
    if outcome == "short" and size is None:  # nothing else would notice the file is cut short
        raise CocoError(f"download kept ending early ({part.size():,} bytes in {part.path}); run again", file=url,
                        key="--download")
    _check_size(part.path, dest.name, size)
    part.sync_hash()
    _check_md5(part.path, dest.name, md5, part.hasher.hexdigest())  # running hash: no 2nd pass over 19 GB
    os.replace(part.path, dest)
    return dest
