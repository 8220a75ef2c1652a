"""Environment settings of the weights store, read at call time (tests and users change them)."""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import SettingError

OFFLINE_VAR = "MODELVER_OFFLINE"
MIRROR_VAR = "MODELVER_MIRROR"
CACHE_VAR = "MODELVER_CACHE"
TIMEOUT_VAR = "MODELVER_DOWNLOAD_TIMEOUT"
LOCK_TIMEOUT_VAR = "MODELVER_LOCK_TIMEOUT"
MAX_DOWNLOAD_VAR = "MODELVER_MAX_DOWNLOAD_SIZE"
MAX_PIXELS_VAR = "MODELVER_MAX_IMAGE_PIXELS"

DEFAULT_TIMEOUT = 30.0
DEFAULT_LOCK_TIMEOUT = 300.0
DEFAULT_MAX_DOWNLOAD = 50 * 10**9  # 50 GB: larger than any single weights file the zoo knows
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold (about 0.25 GB of RGB)

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline() -> bool:
    """``MODELVER_OFFLINE=1``: no network call; only cached or local files load."""
    return _flag(OFFLINE_VAR)


def hf_offline() -> bool:
    return offline() or _flag("HF_HUB_OFFLINE")


@contextlib.contextmanager
def hub_offline_flag() -> Iterator[None]:
    """Under ``MODELVER_OFFLINE=1``, huggingface_hub's own offline flag too, for the duration.

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, at its import, and without it asks the
    Hub for things of its own (its agent registry, while building request headers) even
    when it ends up reading only its cache. The variable is set before the import and the
    imported flag while inside; both are put back after.
    """
    if not offline():
        yield
        return
    saved_env = os.environ.get("HF_HUB_OFFLINE")
    previous = sys.modules.get("huggingface_hub.constants")
    saved_flag = getattr(previous, "HF_HUB_OFFLINE", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env
        constants.HF_HUB_OFFLINE = saved_flag if previous is not None else (saved_env or "").upper() in _HF_TRUE


_HF_TRUE = {"1", "ON", "YES", "TRUE"}


def hf_cache_dir() -> str | None:
    """``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, read now (huggingface_hub reads them once, at its import)."""
    configured = os.environ.get("HF_HUB_CACHE", "").strip()
    if configured:
        return str(Path(configured).expanduser())
    home = os.environ.get("HF_HOME", "").strip()
    return str(Path(home).expanduser() / "hub") if home else None


def mirror() -> str | None:
    """``MODELVER_MIRROR=https://host/base``: fetch http(s) files from there instead."""
    value = os.environ.get(MIRROR_VAR, "").strip()
    return value.rstrip("/") or None


def _positive_seconds(var: str, default: float) -> float:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise SettingError(
            f"{var}={raw!r} is not a number of seconds: set it to a positive number such as "
            f"{default:g} (the default), or unset it."
        )
    return value


def timeout() -> float:
    """Seconds without data before a download is abandoned (``MODELVER_DOWNLOAD_TIMEOUT``, default 30)."""
    return _positive_seconds(TIMEOUT_VAR, DEFAULT_TIMEOUT)


def lock_timeout() -> float:
    """Seconds to wait for another process's download of the same file (``MODELVER_LOCK_TIMEOUT``, default 300)."""
    return _positive_seconds(LOCK_TIMEOUT_VAR, DEFAULT_LOCK_TIMEOUT)


# Decimal units as written on disks and by huggingface_hub ("5GB"); binary ones with an "i" ("5GiB").
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?)\s*([KMGT]I?B|B)?", re.IGNORECASE)


def parse_size(text: str, var: str) -> int:
    """``"500000"``, ``"750MB"``, ``"2GiB"`` → bytes; anything else raises :class:`SettingError` naming ``var``."""
    match = _SIZE.fullmatch(text.strip())
    value = int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()]) if match else 0
    if value <= 0:
        raise SettingError(
            f"{var}={text!r} is not a size: give a positive number of bytes, or one with a unit "
            "(KB, MB, GB, TB; KiB, MiB, GiB, TiB), e.g. 20GB, or unset it."
        )
    return value


def max_download_size() -> int:
    """Bytes past which any download stops (``MODELVER_MAX_DOWNLOAD_SIZE``, default 50GB)."""
    raw = os.environ.get(MAX_DOWNLOAD_VAR, "").strip()
    return parse_size(raw, MAX_DOWNLOAD_VAR) if raw else DEFAULT_MAX_DOWNLOAD


def max_image_pixels() -> int:
    """Pixels an input image may have, decoded or resized (``MODELVER_MAX_IMAGE_PIXELS``, default 89478485)."""
    raw = os.environ.get(MAX_PIXELS_VAR, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    if not raw.isdigit() or int(raw) <= 0:
        raise SettingError(
            f"{MAX_PIXELS_VAR}={raw!r} is not a number of pixels: give a positive whole number "
            f"(default {DEFAULT_MAX_PIXELS}), or unset it."
        )
    return int(raw)


def torch_checkpoints_dir() -> Path:
    """torch.hub's (and torchvision's) ``$TORCH_HOME/hub/checkpoints``: its files are reused when they verify."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def cache_dir() -> Path:
    """Where http(s) downloads are kept: ``$MODELVER_CACHE``, else torch.hub's checkpoint dir.

    The default, ``$TORCH_HOME/hub/checkpoints``, is where torchvision keeps its files, so
    a file torchvision already downloaded is reused.
    """
    configured = os.environ.get(CACHE_VAR, "").strip()
    if configured:
        return Path(configured).expanduser()
    return torch_checkpoints_dir()


def state_dir() -> Path:
    """modelver's own bookkeeping (verified-file records) beside the cache."""
    return cache_dir() / ".modelver"
