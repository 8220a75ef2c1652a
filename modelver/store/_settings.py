"""Environment settings of the weights store, read at call time (tests and users change them)."""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_VAR = "MODELVER_OFFLINE"
MIRROR_VAR = "MODELVER_MIRROR"
CACHE_VAR = "MODELVER_CACHE"
TIMEOUT_VAR = "MODELVER_DOWNLOAD_TIMEOUT"

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline() -> bool:
    """``MODELVER_OFFLINE=1``: no network call; only cached or local files load."""
    return _flag(OFFLINE_VAR)


def hf_offline() -> bool:
    return offline() or _flag("HF_HUB_OFFLINE")


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


def timeout() -> float:
    """Seconds without data before a download is abandoned (``MODELVER_DOWNLOAD_TIMEOUT``, default 30)."""
    try:
        return float(os.environ.get(TIMEOUT_VAR, "30"))
    except ValueError:
        return 30.0


def cache_dir() -> Path:
    """Where http(s) downloads are kept: ``$MODELVER_CACHE``, else torch.hub's checkpoint dir.

    The default, ``$TORCH_HOME/hub/checkpoints``, is where torchvision keeps its files, so
    a file torchvision already downloaded is reused.
    """
    configured = os.environ.get(CACHE_VAR, "").strip()
    if configured:
        return Path(configured).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def state_dir() -> Path:
    """modelver's own bookkeeping (verified-file records) beside the cache."""
    return cache_dir() / ".modelver"
