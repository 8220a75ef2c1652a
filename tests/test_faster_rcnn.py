"""Faster R-CNN v1 / v2: torchvision's models bit for bit, the old eps kept by ContextParams, BC arguments.

The "releases" are seeded synthetic checkpoints with the real files' keys and shapes. torchvision
reads them from its cache under the real file names (its own, unmodified loading path, which
applies ``overwrite_eps``); modelver's entries are pointed at a local copy (the store refuses the
real name, whose hash prefix the synthetic bytes do not match).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch
import torchvision
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_V2_Weights as TV_V2_Weights
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights as TV_V1_Weights
from torchvision.ops import FrozenBatchNorm2d

from modelver import Weights, get_model
from modelver.errors import WeightsUnavailableError
from modelver.models.detection.faster_rcnn import (
    FasterRCNN_ResNet50_FPN_V2_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
    fasterrcnn_resnet50_fpn,
    fasterrcnn_resnet50_fpn_v2,
)
from modelver.models.resnet import ResNet50_Weights
from modelver.predict import decode_detections
from modelver.testing import synthetic_state_dict

SINCE = "since modelver 0.1.0"  # fixed: the deprecation does not move with releases
# Small images and fewer proposals keep each forward pass around a second on a laptop CPU.
SMALL = {"min_size": 128, "max_size": 160, "rpn_pre_nms_top_n_test": 200, "rpn_post_nms_top_n_test": 100}
V1 = FasterRCNN_ResNet50_FPN_Weights.COCO_V1
V2 = FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(3, 128, 160, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    hub = root / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    for key, builder, real in (
        ("v1", fasterrcnn_resnet50_fpn, TV_V1_Weights.COCO_V1),
        ("v2", fasterrcnn_resnet50_fpn_v2, TV_V2_Weights.COCO_V1),
    ):
        with torch.device("meta"):
            skeleton = builder(weights_backbone=None)
        state_dict = synthetic_state_dict(skeleton, seed=2)  # a seed whose v1 and v2 both detect objects
        if key == "v1":  # the real v1 file was saved from FrozenBatchNorm2d layers: no counters
            state_dict = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
        torch.save(state_dict, root / f"synthetic_{key}.pth")
        os.link(root / f"synthetic_{key}.pth", hub / Path(real.url).name)
    return root


@contextmanager
def served(entry: Any, path: Path, **env: str) -> Iterator[None]:
    """``entry`` (the same enum member) with its file at ``path``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(entry.value, "url", str(path))
        for name, value in env.items():
            mp.setenv(name, value)
        yield


def torchvision_model(builder: Any, root: Path) -> torch.nn.Module:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.setattr(torch.hub, "_hub_dir", None)
        return builder(weights="DEFAULT", progress=False, **SMALL).eval()


def predict(model: torch.nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.inference_mode():
        return model([image])[0]


@pytest.fixture(scope="module")
def v1_model(releases: Path) -> torch.nn.Module:
    with served(V1, releases / "synthetic_v1.pth", MODELVER_CACHE=str(releases / "cache")):
        return fasterrcnn_resnet50_fpn(weights=V1, **SMALL).eval()


@pytest.fixture(scope="module")
def v1_output(v1_model: torch.nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    return predict(v1_model, image)


def assert_same_detections(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b) == {"boxes", "labels", "scores"}
    assert len(a["scores"]) > 0  # a comparison of two empty outputs would prove nothing
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


def test_v1_equals_torchvision_after_overwrite_eps(releases: Path, v1_output: dict, image: torch.Tensor) -> None:
    reference = torchvision_model(torchvision.models.detection.fasterrcnn_resnet50_fpn, releases)
    frozen = [m for m in reference.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert frozen and all(m.eps == 0.0 for m in frozen)  # torchvision's overwrite_eps(model, 0.0) ran
    assert_same_detections(v1_output, predict(reference, image))


def test_v1_entry_is_built_with_the_old_eps_by_context_params(
    releases: Path, v1_model: Any, v1_output: dict, image: torch.Tensor
) -> None:
    eps = {m.eps for m in v1_model.modules() if isinstance(m, FrozenBatchNorm2d)}
    assert eps == {0.0}
    # The same file as custom weights is new training's model: today's default eps, other outputs.
    custom = Weights(url=str(releases / "synthetic_v1.pth"), transforms=V1.transforms, meta=V1.meta)
    new = fasterrcnn_resnet50_fpn(weights=custom, **SMALL).eval()
    assert {m.eps for m in new.modules() if isinstance(m, FrozenBatchNorm2d)} == {1e-5}
    assert not torch.equal(predict(new, image)["scores"], v1_output["scores"])
    assert FrozenBatchNorm2d(4).eps == 1e-5  # nothing leaked out of the builder


def test_v2_equals_torchvision(releases: Path, image: torch.Tensor) -> None:
    with served(V2, releases / "synthetic_v2.pth", MODELVER_CACHE=str(releases / "cache")):
        ours = get_model("fasterrcnn_resnet50_fpn_v2", weights="DEFAULT", **SMALL).eval()
    reference = torchvision_model(torchvision.models.detection.fasterrcnn_resnet50_fpn_v2, releases)
    assert_same_detections(predict(ours, image), predict(reference, image))


def test_loaded_model_keeps_the_frozen_stages(v1_model: torch.nn.Module) -> None:
    body = v1_model.backbone.body
    assert not any(p.requires_grad for p in [*body.conv1.parameters(), *body.layer1.parameters()])
    assert all(p.requires_grad for p in [*body.layer2.parameters(), *body.layer4.parameters()])
    assert not any(t.is_meta for t in [*v1_model.parameters(), *v1_model.buffers()])


def test_detections_are_named_from_the_meta(v1_output: dict) -> None:
    found = decode_detections(v1_output, V1.meta["categories"], score_threshold=0.3)
    kept = v1_output["scores"] >= 0.3
    assert len(found) == int(kept.sum()) > 0
    assert [d.label for d in found] == [V1.meta["categories"][i] for i in v1_output["labels"][kept].tolist()]
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_weights_make_weights_backbone_irrelevant(releases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")  # fetching the backbone's file would fail
    with served(V1, releases / "synthetic_v1.pth"):
        model = fasterrcnn_resnet50_fpn(weights=V1, weights_backbone=ResNet50_Weights.IMAGENET1K_V2)
    assert model.roi_heads.box_predictor.cls_score.out_features == 91


def test_default_backbone_weights_are_fetched_like_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="resnet50-0676ba61.pth"):
        fasterrcnn_resnet50_fpn()


def test_pretrained_maps_to_coco_v1_with_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(WeightsUnavailableError, match="fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth"):
            fasterrcnn_resnet50_fpn_v2(pretrained=True)
    messages = [str(w.message) for w in record]
    assert (
        f"The parameter 'pretrained' is deprecated {SINCE} and may be removed in the future, "
        "please use 'weights' instead."
        in messages
    )
    assert any("equivalent to passing `weights=FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1`" in m for m in messages)


def test_pretrained_backbone_maps_with_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(WeightsUnavailableError, match="resnet50-0676ba61.pth"):
            fasterrcnn_resnet50_fpn_v2(pretrained_backbone=True)
        with torch.device("meta"):
            untrained = fasterrcnn_resnet50_fpn(pretrained_backbone=False)
    messages = [str(w.message) for w in record]
    deprecated = "The parameter 'pretrained_backbone' is deprecated"
    assert [m.startswith(deprecated) for m in messages] == [True, False, True, False]
    assert "equivalent to passing `weights_backbone=ResNet50_Weights.IMAGENET1K_V1`" in messages[1]
    assert "equivalent to passing `weights_backbone=None`" in messages[3]
    # No pre-trained part: ordinary BatchNorm and every stage trainable, as torchvision does.
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in untrained.modules())
    assert all(p.requires_grad for p in untrained.parameters())


def test_num_classes_is_checked_against_the_categories() -> None:
    with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 91 but got 2 instead."):
        fasterrcnn_resnet50_fpn(weights=V1, num_classes=2)
    with torch.device("meta"):
        assert fasterrcnn_resnet50_fpn_v2(num_classes=2).roi_heads.box_predictor.cls_score.out_features == 2
