"""The one download path for http(s) files: locked, resumable, verified, atomic.

Like huggingface_hub's ``file_download``: a per-file lock (``filelock``) so that many
processes download once, waited for at most ``MODELVER_LOCK_TIMEOUT`` seconds; the bytes
go to a temporary file of this process's own (``NAME.<pid>@<host>.incomplete``), so that
two writers never write one file even where locks do not hold (NFS, Lustre); they are
hashed as they arrive, counted against ``Content-Length`` / ``Content-Range`` and the
size limits, and only a complete, verified file is renamed to its cache name
(``os.replace``, atomic). An interrupted download leaves its temporary file, which the
next attempt takes over (once its writer is gone) and resumes with an HTTP range request.

``torch.hub.download_url_to_file`` was the first choice, but it has no network timeout
and does not notice a connection closed before ``Content-Length`` bytes arrived.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import CacheError, DownloadError, IntegrityError, LockTimeoutError, WeightsUnavailableError
from . import _integrity, _settings
from ._serialization import not_a_checkpoint

_CHUNK = 1 << 20
USER_AGENT = f"modelver/{__version__}"


def how_to_place(url: str, path: Path) -> str:
    return (
        f"To use it without network, download {url} on a machine that has access and copy it to {path} "
        f"(or set {_settings.MIRROR_VAR} to a server that has the file)."
    )


_CACHE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)


def _cache_error(directory: Path, exc: OSError) -> CacheError:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EFBIG: "the file size limit is exceeded",
        errno.EROFS: "it is on a read-only file system",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return CacheError(
        f"Cannot write to the weights cache {directory}: {reason}. Free space there, or point "
        f"{_settings.CACHE_VAR} (or TORCH_HOME) at a writable directory with room for the file."
    )


def _holder(lock_path: Path) -> str:
    """Who holds a lock, from the note its holder wrote beside it."""
    try:
        pid, _, host = lock_path.with_name(lock_path.name + ".owner").read_text().strip().partition(" ")
    except OSError:
        return "a process that left no note of its pid"
    where = "" if host == socket.gethostname() else f" on host {host}"
    return f"process {pid}{where}"


@contextlib.contextmanager
def _locked(path: Path, progress: bool) -> Iterator[None]:
    """Hold the per-file lock; say so when waiting for another process's download.

    Waits at most ``MODELVER_LOCK_TIMEOUT`` seconds: a holder that is stopped or hung
    must not block everyone forever. The holder notes its pid beside the lock.
    """
    from filelock import FileLock, Timeout

    limit = _settings.lock_timeout()
    lock_dir = path.parent / ".locks"
    lock_path = lock_dir / f"{path.name}.lock"
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path))
        try:
            lock.acquire(timeout=min(0.5, limit))
        except Timeout:
            if progress:
                print(f"Waiting for another process downloading {path.name} ...", file=sys.stderr)
            try:
                lock.acquire(timeout=max(limit - 0.5, 0))
            except Timeout:
                raise LockTimeoutError(
                    f"Waited {limit:g} s for the lock {lock_path}, held by {_holder(lock_path)} downloading "
                    f"{path.name}. If that process is stopped or hung, end it (or delete the lock file); to wait "
                    f"longer, raise {_settings.LOCK_TIMEOUT_VAR} (seconds, default {_settings.DEFAULT_LOCK_TIMEOUT:g})."
                ) from None
        with contextlib.suppress(OSError):
            lock_path.with_name(lock_path.name + ".owner").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    except LockTimeoutError:
        raise
    except OSError as exc:
        raise _cache_error(path.parent, exc) from exc
    try:
        yield
    finally:
        lock.release()


def _open_response(url: str, offset: int, timeout: float):  # type: ignore[no-untyped-def]
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # our partial file is stale: start over
            return None
        raise WeightsUnavailableError(f"HTTP {exc.code} {exc.reason} for {url}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsUnavailableError(f"Cannot reach {url}: {reason}.") from exc


# ---- this process's temporary file, and taking over one left by a writer that is gone --------

_PARTIAL = re.compile(r"\.(\d+)@([^/]*)\.incomplete$")


def partial_path(path: Path) -> Path:
    """This process's temporary file for ``path``: ``NAME.<pid>@<host>.incomplete``."""
    return path.with_name(f"{path.name}.{os.getpid()}@{socket.gethostname()}.incomplete")


def _writer_gone(partial: Path) -> bool:
    match = _PARTIAL.search(partial.name)
    if match is None:
        return False
    pid, host = int(match.group(1)), match.group(2)
    if host != socket.gethostname():  # another machine: gone if it has not written for a while
        try:
            return time.time() - partial.stat().st_mtime > _settings.lock_timeout()
        except OSError:
            return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _adopt_partial(path: Path, mine: Path) -> None:
    """Take over (rename to ``mine``) the longest temporary file of ``path`` whose writer is gone."""
    if mine.exists():
        return
    candidates = []
    for other in path.parent.glob(f"{glob.escape(path.name)}.*.incomplete"):
        if other != mine and _writer_gone(other):
            with contextlib.suppress(OSError):
                candidates.append((other.stat().st_size, other))
    for _, other in sorted(candidates, reverse=True):
        try:
            os.replace(other, mine)  # atomic: of two processes taking it over, one gets it
        except OSError:
            continue
        return


def download(url: str, path: Path, *, expect: _integrity.Expected, progress: bool) -> None:
    """Download ``url`` to ``path`` unless another process already did; verify before renaming."""
    with _locked(path, progress):
        if path.exists():  # another process finished it while we waited
            return
        partial = partial_path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _adopt_partial(path, partial)
            _download_locked(url, path, partial, expect=expect, progress=progress)
        except IntegrityError:
            partial.unlink(missing_ok=True)
            raise
        except DownloadError:
            raise  # the partial file stays for the next attempt to resume
        except OSError as exc:
            if exc.errno not in _CACHE_ERRNOS:
                raise
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)  # give the space back
            raise _cache_error(path.parent, exc) from exc


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _start(url: str, partial: Path) -> tuple[Any, int, int | None]:
    """(response, offset the body starts at, total size when the server says) for the download.

    Resumes from the partial file with a range request; a 206 is taken only if its
    ``Content-Range`` starts where the partial file ends; otherwise the partial file is
    dropped and the whole file requested.
    """
    offset = partial.stat().st_size if partial.exists() else 0
    response = _open_response(url, offset, _settings.timeout())
    if offset and response is not None and response.status == 206:
        match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
        if match and int(match.group(1)) == offset:
            total = None if match.group(3) == "*" else int(match.group(3))
            return response, offset, total
        response.close()  # a range we did not ask for: appending it would splice two files
        response = None
    elif response is not None and offset:
        return response, 0, None  # the server sent the whole file (it ignored the range)
    if response is None:
        response = _open_response(url, 0, _settings.timeout())
        if response.status == 206:
            response.close()
            raise DownloadError(f"{url} answered a request for the whole file with a part of it (HTTP 206).")
    return response, 0, None


def _content_length(response: Any, url: str) -> int | None:
    length = (response.headers.get("Content-Length") or "").strip()
    if not length:
        return None
    if not length.isdigit():
        raise DownloadError(f"{url} sent an invalid Content-Length {length!r}; try again later or use a mirror.")
    return int(length)


def _read_past_length(response: Any) -> None:
    """Let the body be read to its end rather than stop at ``Content-Length``, so that a server
    sending more than it announced is noticed; the socket's timeout is shortened so that a
    server keeping the connection open after the body costs a second, not a timeout."""
    response.length = None
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(min(_settings.timeout(), 1.0))


def _too_large(what: str, limit: int, source: str, outcome: str) -> IntegrityError:
    fix = (
        f" If the file really is that large, raise {source} (bytes, or with KB/MB/GB)."
        if source == _settings.MAX_DOWNLOAD_VAR
        else " The server is not serving the file the entry names; try a mirror."
    )
    return IntegrityError(f"{what} the {limit} bytes allowed by {source}. {outcome}{fix}")


def _download_locked(url: str, path: Path, partial: Path, *, expect: _integrity.Expected, progress: bool) -> None:
    limit, limit_source = expect.limit()
    response, offset, total = _start(url, partial)
    digest = hashlib.sha256()
    if offset:
        with open(partial, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    with response:
        length = _content_length(response, url)
        expected = offset + length if length is not None else None
        if total is not None and expected is not None and total != expected:
            raise DownloadError(
                f"{url}: its Content-Range says {total} bytes in all but Content-Length {length} after byte "
                f"{offset} makes {expected}. The server is inconsistent; try again later or use a mirror."
            )
        if expected is not None and expected > limit:
            raise _too_large(f"{url} is {expected} bytes, more than", limit, limit_source, "It was not downloaded.")
        received = offset
        from tqdm.auto import tqdm

        with open(partial, "ab" if offset else "wb") as out, tqdm(
            total=expected, initial=offset, disable=not progress, unit="B", unit_scale=True,
            unit_divisor=1024, desc=path.name, leave=False,
        ) as bar:
            while True:
                complete = expected is not None and received == expected
                if complete:
                    _read_past_length(response)
                try:
                    chunk = response.read1(_CHUNK)  # what has arrived: progress is written as it comes
                except (OSError, ValueError) as exc:  # reset, timeout, IncompleteRead
                    if complete and isinstance(exc, TimeoutError):
                        break  # all announced bytes are here and the server keeps the connection open
                    raise DownloadError(
                        f"Download of {url} broke off after {received} bytes ({exc}). The partial file "
                        f"{partial} is kept; run again to resume."
                    ) from exc
                if not chunk:
                    break
                if expected is not None and received + len(chunk) > expected:
                    raise IntegrityError(
                        f"{url} sent more bytes than its Content-Length ({length}) announced: the response is "
                        "not a file that can be trusted; it was not kept. Try again later or use a mirror."
                    )
                if received + len(chunk) > limit:
                    raise _too_large(
                        f"Download of {url} went past", limit, limit_source, "It was stopped; nothing was kept."
                    )
                out.write(chunk)  # a full disk raises here: reported as a cache error
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    if expected is not None and received != expected:
        raise DownloadError(
            f"Download of {url} ended after {received} of {expected} bytes (the server closed the "
            f"connection). The partial file {partial} is kept; run again to resume."
        )
    _integrity.check_size(received, expect, path=partial, origin=url)
    _integrity.check_digest(digest.hexdigest(), expect, name=path.name, path=partial, origin=url)
    if not expect.sha256:  # no digest vouches for the bytes: at least they must be what the name says
        reason = not_a_checkpoint(partial, path.name)
        if reason is not None:
            raise IntegrityError(f"{url} is not a usable file: {reason}. It was not kept.")
    os.replace(partial, path)
    _integrity.remember(path, digest.hexdigest())
