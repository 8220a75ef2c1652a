"""The model zoo: ``from modelver.models import resnet50, ResNet50_Weights``.

Builders and weights enums are looked up in the generated manifest (``_manifest.py``) and
their module is imported on first access, so importing this package is free.
"""

from ._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, globals())
