"""The model zoo: ``from modelver.models import resnet50, ResNet50_Weights``.

Builders and weights enums are looked up in the generated manifest (``_manifest.py``) and
their module is imported on first access, so importing this package is free. The registry's
functions are here too, as in ``torchvision.models``: ``models.get_model("resnet50")``.
"""

from .._registry import get_model as get_model
from .._registry import get_model_builder as get_model_builder
from .._registry import get_model_weights as get_model_weights
from .._registry import get_weight as get_weight
from .._registry import list_models as list_models
from .._weights import Weights as Weights
from .._weights import WeightsEnum as WeightsEnum
from ._lazy import lazy_exports as _lazy_exports

# torchvision.models' API functions (its models._api.__all__), so `from modelver import models` is a drop-in.
_API = ["WeightsEnum", "Weights", "get_model", "get_model_builder", "get_model_weights", "get_weight", "list_models"]

__getattr__, __dir__ = _lazy_exports(__name__, globals())
