"""The one download path for http(s) files: locked, resumable, verified, atomic.

Like huggingface_hub's ``file_download``: a per-file lock (``filelock``) so that many
processes download once; the bytes go to ``NAME.incomplete`` beside the cache file and
are hashed as they arrive; only a complete, verified file is renamed to its cache name
(``os.replace``, atomic). An interrupted download leaves only ``NAME.incomplete``, which
the next attempt resumes with an HTTP range request when the server allows it.

``torch.hub.download_url_to_file`` was the first choice, but it has no network timeout
and does not notice a connection closed before ``Content-Length`` bytes arrived.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

from .._version import __version__
from ..errors import CacheError, DownloadError, IntegrityError, WeightsUnavailableError
from . import _integrity, _settings

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


@contextlib.contextmanager
def _locked(path: Path, progress: bool) -> Iterator[None]:
    """Hold the per-file lock; say so when waiting for another process's download."""
    from filelock import FileLock, Timeout

    try:
        lock_dir = path.parent / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_dir / f"{path.name}.lock"))
        try:
            lock.acquire(timeout=0.5)
        except Timeout:
            if progress:
                print(f"Waiting for another process downloading {path.name} ...", file=sys.stderr)
            lock.acquire()
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


def download(url: str, path: Path, *, sha256: str, progress: bool) -> None:
    """Download ``url`` to ``path`` unless another process already did; verify before renaming."""
    with _locked(path, progress):
        if path.exists():  # another process finished it while we waited
            return
        partial = path.with_name(path.name + ".incomplete")
        try:
            _download_locked(url, path, partial, sha256=sha256, progress=progress)
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


def _download_locked(url: str, path: Path, partial: Path, *, sha256: str, progress: bool) -> None:
    offset = partial.stat().st_size if partial.exists() else 0
    response = _open_response(url, offset, _settings.timeout())
    if response is None or (offset and response.status != 206):
        offset = 0  # no resume: the server sent the whole file (or refused the range)
        if response is None:
            response = _open_response(url, 0, _settings.timeout())
    digest = hashlib.sha256()
    if offset:
        with open(partial, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    with response:
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None and length.isdigit() else None
        received = offset
        from tqdm.auto import tqdm

        with open(partial, "ab" if offset else "wb") as out, tqdm(
            total=expected, initial=offset, disable=not progress, unit="B", unit_scale=True,
            unit_divisor=1024, desc=path.name, leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read1(_CHUNK)  # what has arrived: progress is written as it comes
                except (OSError, ValueError) as exc:  # reset, timeout, IncompleteRead
                    raise DownloadError(
                        f"Download of {url} broke off after {received} bytes ({exc}). The partial file "
                        f"{partial} is kept; run again to resume."
                    ) from exc
                if not chunk:
                    break
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
    _integrity.check_digest(digest.hexdigest(), sha256=sha256, name=path.name, path=partial, origin=url)
    os.replace(partial, path)
    _integrity.remember(path, digest.hexdigest())
