"""torch.hub entry points of modelver: every registered builder and weights enum.

    model = torch.hub.load("org/modelver", "efficientnet_lite0", weights="DEFAULT")
    weights = torch.hub.load("org/modelver", "get_weight", weights="EfficientNet_Lite0_Weights.DEFAULT")
    torch.hub.list("org/modelver")                       # every builder, enum and helper
    print(torch.hub.help("org/modelver", "efficientnet_lite0"))

This file never needs editing when a model is added: the names come from modelver's
registry (module ``__getattr__`` / ``__dir__``), and each is imported only when used.
torch.hub puts the checkout first on ``sys.path``, so ``modelver`` here is the checkout's
own package; nothing needs to be installed but the dependencies below.
"""

# What torch.hub checks (importlib.util.find_spec) before calling any entry point: the
# packages the weights store and the reference models need. Builders that need more
# (torchvision, torchaudio, huggingface_hub, tokenizers) import it when called.
dependencies = ["torch", "numpy", "filelock", "safetensors", "tqdm"]

from modelver._torchhub import entry as _entry
from modelver._torchhub import entry_names as _entry_names
from modelver._torchhub import get_model_weights, get_weight, list_models  # noqa: F401


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    return _entry(name)


def __dir__() -> list:  # type: ignore[type-arg]
    return sorted(set(globals()) | set(_entry_names()))
