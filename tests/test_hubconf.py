"""torch.hub, as a user types it, offline, from a copy of the repository in $TORCH_HOME/hub.

The copy gets one extra model module (``hubtest_net``, not in the manifest, hubconf.py
untouched) whose weights file the test makes and places in the checkpoint cache, as a
user with the real file would: the path torch.hub users rely on for resnet50 and co.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch
from hub_checkout import HUB_REPO, assert_hub_load_fails_offline, make_hub_checkout, run_hub

from modelver import _registry, _torchhub
from modelver.errors import UnknownWeightsError

HUBTEST_MODULE = '''"""A model added to the checkout by tests/test_hubconf.py, without editing hubconf.py or the manifest."""

from functools import partial
from typing import Any, Optional

from torch import nn

from .._build import build_model
from .._registry import register_model
from .._weights import Weights, WeightsEnum
from ..transforms import ImageClassification


class HubTestNet(nn.Sequential):
    def __init__(self, num_classes: int = 3) -> None:
        super().__init__(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))


class HubTestNet_Weights(WeightsEnum):
    CACHED_V1 = Weights(
        url="https://weights.example.invalid/models/{name}",
        sha256="{digest}",
        transforms=partial(ImageClassification, crop_size=8, resize_size=8),
        meta={{"task": "image_classification", "categories": ["a", "b", "c"], "num_params": 127}},
    )
    MISSING_V2 = Weights(
        url="https://weights.example.invalid/models/hubtest_net-v2.pth",
        transforms=partial(ImageClassification, crop_size=8, resize_size=8),
        meta={{"task": "image_classification", "categories": ["a", "b", "c"]}},
    )
    DEFAULT = CACHED_V1


@register_model()
def hubtest_net(*, weights: Optional[HubTestNet_Weights] = None, progress: bool = True, **kwargs: Any) -> HubTestNet:
    """A three-class toy network.

    Example::

        model = torch.hub.load("org/modelver", "hubtest_net", weights="DEFAULT")
    """
    weights = HubTestNet_Weights.verify(weights)
    return build_model(partial(HubTestNet, **kwargs), weights, progress)
'''


def _checkpoint() -> tuple[dict[str, torch.Tensor], bytes]:
    g = torch.Generator().manual_seed(7)
    shapes = {"0.weight": (4, 3, 3, 3), "0.bias": (4,), "3.weight": (3, 4), "3.bias": (3,)}
    state = {key: torch.randn(shape, generator=g) for key, shape in shapes.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return state, buffer.getvalue()


class Hub:
    def __init__(self, torch_home: Path, workdir: Path, checkpoint: dict[str, torch.Tensor]) -> None:
        self.torch_home, self.workdir, self.checkpoint = torch_home, workdir, checkpoint

    def run(self, code: str, **env: str) -> Any:
        result = run_hub(code, self.torch_home, self.workdir, **env)
        assert result.returncode == 0, result.stderr
        return result


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("hub")
    torch_home = root / "torch"
    state, data = _checkpoint()
    digest = hashlib.sha256(data).hexdigest()
    name = f"hubtest_net-{digest[:8]}.pth"
    module = HUBTEST_MODULE.replace("{{", "{").replace("}}", "}").replace("{name}", name).replace("{digest}", digest)
    make_hub_checkout(torch_home, {"modelver/models/hubtest_net.py": module})
    cache = torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / name).write_bytes(data)  # what a user does with a file fetched elsewhere
    (root / "work").mkdir()
    yield Hub(torch_home, root / "work", state)


def test_importing_hubconf_is_cheap_and_list_shows_every_model(hub: Hub) -> None:
    result = hub.run(
        f"""
import json, sys
import torch.hub
checkout = torch.hub.get_dir() + "/org_modelver_main"
sys.path.insert(0, checkout)
import hubconf
names = dir(hubconf)
entries = {{n: callable(getattr(hubconf, n)) for n in names if not n.startswith("_")}}
heavy = [m for m in ("torchvision", "torchaudio", "huggingface_hub", "tokenizers", "modelver.models.efficientnet_lite") if m in sys.modules]
sys.path.remove(checkout)
listed = torch.hub.list({HUB_REPO!r})
print(json.dumps({{"heavy": heavy, "entries": entries, "listed": listed, "modelver": sys.modules["modelver"].__file__,
                   "deps": hubconf.dependencies}}))
"""
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []  # listing imports no model module and no optional library
    assert out["modelver"].startswith(str(hub.torch_home / "hub" / "org_modelver_main"))
    expected = {"efficientnet_lite0", "EfficientNet_Lite0_Weights", "hubtest_net", "HubTestNet_Weights",
                "get_weight", "get_model_weights", "list_models"}  # fmt: skip
    assert expected <= set(out["listed"])
    assert set(out["listed"]) == {n for n, is_callable in out["entries"].items() if is_callable}
    assert "dependencies" not in out["listed"] and out["deps"][0] == "torch"


def test_help_prints_docstring_weights_and_the_hub_call(hub: Hub) -> None:
    result = hub.run(
        f"""
import torch.hub
for name in ("efficientnet_lite0", "EfficientNet_Lite0_Weights", "get_weight", "hubtest_net"):
    print(torch.hub.help({HUB_REPO!r}, name))
    print("=====")
"""
    )
    lite0, enum, get_weight, hubtest = result.stdout.split("=====\n")[:4]
    assert lite0.startswith("EfficientNet-Lite0 from")
    assert "Example::" in lite0 and "default ``None``" in lite0
    assert "EfficientNet_Lite0_Weights.IMAGENET1K_V1 (= DEFAULT): ImageNet-1K: acc@1 75.1" in lite0
    assert 'torch.hub.load("org/modelver", "efficientnet_lite0", weights="DEFAULT")' in lite0
    assert "IMAGENET1K_V1 (= DEFAULT)" in enum and "the pre-trained weights of efficientnet_lite0" in enum
    assert 'weights="EfficientNet_Lite0_Weights.DEFAULT"' in get_weight
    assert "HubTestNet_Weights.CACHED_V1 (= DEFAULT)" in hubtest and "HubTestNet_Weights.MISSING_V2" in hubtest


def test_load_efficientnet_from_the_hub_predicts_the_cat(hub: Hub) -> None:
    result = hub.run(
        f"""
import sys, torch
from PIL import Image
from skimage import data

model = torch.hub.load({HUB_REPO!r}, "efficientnet_lite0", weights="DEFAULT").eval()
weights = torch.hub.load({HUB_REPO!r}, "get_weight", weights="EfficientNet_Lite0_Weights.DEFAULT")
same = torch.hub.load({HUB_REPO!r}, "EfficientNet_Lite0_Weights", "IMAGENET1K_V1")
batch = weights.transforms()(Image.fromarray(data.chelsea())).unsqueeze(0)
with torch.inference_mode():
    print(weights.meta["categories"][model(batch).argmax().item()])
print(repr(weights), same is weights, sys.modules["modelver"].__file__)
"""
    )
    category, facts = result.stdout.strip().splitlines()[-2:]
    assert category in {"tiger cat", "Egyptian cat", "tabby"}
    label, same, origin = facts.split()
    assert label == "EfficientNet_Lite0_Weights.IMAGENET1K_V1" and same == "True"
    assert origin.startswith(str(hub.torch_home / "hub" / "org_modelver_main"))
    assert "Using cache found in" in result.stderr  # torch.hub took the cached checkout


def test_added_model_loads_from_the_checkpoint_cache_github_and_local(hub: Hub) -> None:
    checkout = hub.torch_home / "hub" / "org_modelver_main"
    result = hub.run(
        f"""
import torch
for source, repo in (("github", {HUB_REPO!r}), ("local", {str(checkout)!r})):
    model = torch.hub.load(repo, "hubtest_net", source=source, weights="DEFAULT")
    print(source, model[3].bias.tolist())
print(torch.hub.load({str(checkout)!r}, "list_models", source="local", include="hubtest*"))
"""
    )
    lines = result.stdout.strip().splitlines()
    expected = hub.checkpoint["3.bias"].tolist()
    assert lines[0] == f"github {expected}" and lines[1] == f"local {expected}"
    assert lines[2] == "['hubtest_net']"


def test_missing_weights_fail_at_once_offline_saying_where_the_file_goes(hub: Hub) -> None:
    from modelver.store import cache_path

    with pytest.MonkeyPatch.context() as mp:  # no sha256: the file goes to its location's own cache folder
        mp.setenv("TORCH_HOME", str(hub.torch_home))
        mp.setattr(torch.hub, "_hub_dir", None)
        cache = cache_path("https://weights.example.invalid/models/hubtest_net-v2.pth")
    assert_hub_load_fails_offline(hub.torch_home, hub.workdir, "hubtest_net", "MISSING_V2", f"copy it to {cache}")


def test_resnet50_from_the_hub_offline_names_the_real_file_and_where_it_goes(hub: Hub) -> None:
    """`torch.hub.load('org/modelver', 'resnet50', weights='IMAGENET1K_V2')` as a user types it, with no network."""
    cache = hub.torch_home / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
    assert_hub_load_fails_offline(
        hub.torch_home, hub.workdir, "resnet50", "IMAGENET1K_V2",
        "https://download.pytorch.org/models/resnet50-11ad3fa6.pth", f"copy it to {cache}",
    )


def test_hub_get_weight_takes_a_keyword_or_a_positional_name() -> None:
    assert _torchhub.get_weight(weights="EfficientNet_Lite0_Weights.DEFAULT") is _torchhub.get_weight(
        "EfficientNet_Lite0_Weights.IMAGENET1K_V1"
    )
    with pytest.raises(UnknownWeightsError, match="takes one full weights name"):
        _torchhub.get_weight()
    with pytest.raises(UnknownWeightsError, match="Did you mean"):
        _torchhub.get_weight(weights="EfficientNet_Lite0_Weights.IMAGENET1K_V2")
    assert _torchhub.get_model_weights(model="efficientnet_lite0").__name__ == "EfficientNet_Lite0_Weights"


def test_unknown_entry_is_an_attribute_error_naming_the_listing() -> None:
    with pytest.raises(AttributeError, match=r"no entry point 'resnet5'.*torch.hub.list"):
        _torchhub.entry("resnet5")
    entry = _torchhub.entry("efficientnet_lite0")
    assert repr(entry) == "<torch.hub entry 'efficientnet_lite0' (builder)>"
    assert "weights" in str(entry.__signature__)




def test_a_builder_needing_a_missing_package_says_what_to_install(registry_snapshot: None) -> None:
    @_registry.register_model("needs_missing_pkg")
    def needs_missing_pkg(**kwargs: Any) -> Any:
        import modelver_missing_dependency  # noqa: F401

    with pytest.raises(
        ModuleNotFoundError, match="'needs_missing_pkg' needs the module 'modelver_missing_dependency'.*pip install"
    ):
        _torchhub.entry("needs_missing_pkg")()


def test_every_builtin_builder_documents_its_weights_with_an_example() -> None:
    """torch.hub.help prints the docstring: it must say the weights, the default and show a call."""
    from modelver._modeldocs import builtin_builders

    for name, builder in builtin_builders().items():
        doc = builder.__doc__ or ""
        assert "Example::" in doc, f"{name}: docstring has no Example:: section"
        enum = _registry._enum_of(builder)
        if enum is not None:
            assert enum.__name__ in doc and "DEFAULT" in doc, f"{name}: docstring does not name {enum.__name__}"
