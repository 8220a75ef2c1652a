"""Weights lock files: pin each builder's entry, file digest, ``hf://`` commit and output fingerprint.

- :mod:`._format`: the file (TOML) and its :class:`Pin` records; no torch.
- :mod:`._active`: the lock in force (``use_lock``, ``MODELVER_LOCK``) and what the weights API asks it.
- :mod:`._pin`: making a pin (resolve the entry, fetch and hash the file, fingerprint it), and
  :func:`provenance`, what a bundle records about its weights.
- :mod:`._commands`: ``write_lock`` (lock, re-lock, upgrade) and ``check_lock``.

The weights API imports only the first two (no torch); the others load when used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["provenance"]


def __getattr__(name: str) -> Any:
    if name == "provenance":  # what an exported bundle records about its weights (imports the store)
        from ._pin import provenance

        return provenance
    raise AttributeError(f"module 'modelver.lockfile' has no attribute {name!r}")
