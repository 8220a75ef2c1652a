"""Task exporters: one :class:`TaskExporter` subclass per task, registered in :mod:`modelver_export.registry`.

Importing this package imports no torch (the exporters' modules do, on first use).
"""

from __future__ import annotations

from ._base import Case, TaskExporter, image_cases

__all__ = ["Case", "TaskExporter", "image_cases"]
