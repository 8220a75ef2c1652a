"""Every vision builder's weights entries are complete and agree with the model each one builds.

"Built as for the entry": the builder runs with the entry (meta device, so FrozenBatchNorm,
eps and num_classes are what the weights get) and only the file load is skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from typing import Any

import pytest
import torch
from conftest import subprocess_env

from modelver import _build, get_model_builder, get_model_weights, get_weight, list_models
from modelver.cli import main

BUILDERS = ["resnet50", "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2"]
COMMON_KEYS = {
    "task",
    "categories",
    "num_params",
    "min_size",
    "license",
    "source",
    "recipe",
    "_metrics",
    "_ops",
    "_file_size",
    "_docs",
}
TASK_KEYS = {"image_classification": {"preprocessing"}, "object_detection": {"preprocessing"}}
METRICS = {
    "image_classification": ("ImageNet-1K", {"acc@1", "acc@5"}),
    "object_detection": ("COCO-val2017", {"box_map"}),
}

ENTRIES = [(name, member) for name in BUILDERS for member in get_model_weights(name)]


def built_as_for(name: str, weights: Any, monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    monkeypatch.setattr(_build, "load_weights", lambda *args, **kwargs: None)
    with torch.device("meta"):
        return get_model_builder(name)(weights=weights)


def head_size(model: torch.nn.Module) -> int:
    if hasattr(model, "roi_heads"):
        return model.roi_heads.box_predictor.cls_score.out_features
    return model.fc.out_features


def test_every_builder_is_registered_and_listed() -> None:
    assert set(BUILDERS) <= set(list_models())
    assert list_models(module="modelver.models.detection") == ["fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2"]


@pytest.mark.parametrize("name", BUILDERS)
def test_enum_names_and_default(name: str) -> None:
    enum = get_model_weights(name)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", member) for member in enum.__members__)
    assert "DEFAULT" in enum.__members__ and enum.DEFAULT in list(enum)
    assert get_weight(f"{enum.__name__}.DEFAULT") is enum.DEFAULT


@pytest.mark.parametrize("name, weights", ENTRIES, ids=[repr(w) for _, w in ENTRIES])
def test_meta_is_complete(name: str, weights: Any) -> None:
    meta = weights.meta
    task = meta["task"]
    assert COMMON_KEYS | TASK_KEYS[task] <= set(meta)
    dataset, metrics = METRICS[task]
    assert set(meta["_metrics"][dataset]) == metrics and all(
        isinstance(v, float) for v in meta["_metrics"][dataset].values()
    )
    assert weights.url.startswith("https://download.pytorch.org/models/")
    assert re.search(r"-[0-9a-f]{8}\.pth$", weights.url)  # the store checks this prefix: the full digest is unknown
    assert len(set(meta["categories"])) > 1 and meta["categories"][0] in ("tench", "__background__")


@pytest.mark.parametrize("name, weights", ENTRIES, ids=[repr(w) for _, w in ENTRIES])
def test_categories_and_params_match_the_model_built_for_the_entry(
    name: str, weights: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = built_as_for(name, weights, monkeypatch)
    assert head_size(model) == len(weights.meta["categories"])
    assert sum(p.numel() for p in model.parameters()) == weights.meta["num_params"]


@pytest.mark.parametrize("name, weights", ENTRIES, ids=[repr(w) for _, w in ENTRIES])
def test_transforms_are_scriptable(name: str, weights: Any) -> None:
    preset = weights.transforms()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notice
        scripted = torch.jit.script(preset)
    x = torch.randint(0, 256, (3, 61, 83), dtype=torch.uint8)
    assert torch.equal(scripted(x), preset(x))


@pytest.mark.parametrize("name", BUILDERS)
def test_info_describes_every_entry(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", name]) == 0
    out = capsys.readouterr().out
    enum = get_model_weights(name)
    assert out.startswith(f"{name}(*, weights:")
    assert f"{enum.__name__}.{enum.DEFAULT.name}  (DEFAULT)" in out
    for member in enum:
        assert f"url: {member.url}" in out


LAZY = """
import sys, modelver
names = ['ResNet50_Weights.DEFAULT', 'FasterRCNN_ResNet50_FPN_Weights.COCO_V1']
for name in names + ['FasterRCNN_ResNet50_FPN_V2_Weights.DEFAULT']:
    modelver.get_weight(name).meta['categories']
from modelver.models.detection import fasterrcnn_resnet50_fpn
from modelver.models import resnet50
print(sorted(m for m in ('torchvision', 'torchaudio', 'huggingface_hub') if m in sys.modules))
"""


def test_entries_and_builders_import_no_torchvision_until_a_model_is_built() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAZY], capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
