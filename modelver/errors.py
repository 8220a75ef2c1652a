"""The exceptions modelver raises, one hierarchy.

Every error says what went wrong *and* what to do about it. Each class also derives
from the builtin exception a caller of torchvision / torch.hub would catch for the same
problem (``ValueError`` for a bad name, ``OSError`` for a file problem, ...), so code
written against those libraries keeps working.

This module imports nothing heavy: the ONNX runtime uses it in processes without torch.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "CacheError",
    "DownloadError",
    "IntegrityError",
    "LockError",
    "LockTimeoutError",
    "ModelverError",
    "SettingError",
    "SourceError",
    "UnknownModelError",
    "UnknownWeightsError",
    "UnsafeCheckpointError",
    "WeightsError",
    "WeightsUnavailableError",
    "first_line",
]


class ModelverError(Exception):
    """Base class of every error modelver raises on purpose."""


class UnknownModelError(ModelverError, ValueError):
    """A model name that is not registered."""


class UnknownWeightsError(ModelverError, KeyError, ValueError):
    """A weights name that does not exist (``X_Weights.NAME`` or ``NAME``).

    Derives from ``KeyError`` because ``X_Weights["NAME"]`` raises one, and from
    ``ValueError`` because :func:`torchvision.models.get_weight` raises one.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SourceError(ModelverError, ValueError):
    """A weights location (``hf://``, ``pkg://``, ``https://``, path) that cannot be parsed."""


class SettingError(ModelverError, ValueError):
    """A setting (an environment variable such as ``MODELVER_DOWNLOAD_TIMEOUT``, or an argument) that cannot work."""


class WeightsError(ModelverError, OSError):
    """Base class of the errors that come from getting a weights file."""


class WeightsUnavailableError(WeightsError, FileNotFoundError):
    """The file is not cached and cannot be fetched (offline, missing package, 404, ...)."""


class DownloadError(WeightsError, ConnectionError):
    """The download started but did not complete (connection dropped, short read, timeout)."""


class IntegrityError(WeightsError):
    """A file's sha256 (or size) does not match what its weights entry promises."""


class UnsafeCheckpointError(WeightsError):
    """A checkpoint that would need to run code to load (pickled objects): refused."""


class CacheError(WeightsError):
    """The cache directory cannot be written (read-only, full disk, ...)."""


class LockTimeoutError(CacheError, TimeoutError):
    """Another process has held a download's lock longer than ``MODELVER_LOCK_TIMEOUT`` (stalled or stopped)."""


class BundleError(ModelverError, ValueError):
    """An exported bundle that is missing, corrupted, or given the wrong input."""


class LockError(ModelverError):
    """A weights lock file (``modelver.lock``) that is malformed, or a request it forbids.

    Raised when a locked builder is asked for another entry than its pin (for example the
    enum's ``DEFAULT`` after it moved): the message names both entries and the command that
    moves the pin.
    """


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, whitespace collapsed (the type's name when it says nothing).

    What modelver quotes when it wraps another library's many-paged error in its own one-line error.
    """
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__
