"""Detection models: ``from modelver.models.detection import fasterrcnn_resnet50_fpn``.

Like :mod:`modelver.models`, builders and weights enums are found through the manifest and
their module is imported on first access.
"""

from .._lazy import lazy_exports as _lazy_exports

__getattr__, __dir__ = _lazy_exports(__name__, globals())
