"""Scenario 1 of the model-versioning RFC: multi-weight and multi-version support (BC).

Real-world case: torchvision's ``resnet50`` got a second ImageNet entry when a new training
recipe lifted its top-1 from 76.130% to 80.858% (``ResNet50_Weights.IMAGENET1K_V2``,
https://github.com/pytorch/vision/issues/3995); detection models ship weights trained on other
datasets with other categories (COCO, Pascal VOC); and the improved Faster R-CNN, whose layers
differ, became a new builder ``fasterrcnn_resnet50_fpn_v2`` with its own enum
(https://github.com/pytorch/vision/pull/5763) so that ``fasterrcnn_resnet50_fpn`` and its
weights did not change. modelver has all three (``modelver info resnet50``).

What this script shows, on a small model so that it runs anywhere in seconds:
  1. one builder, several entries: a newer recipe (``IMAGENET1K_V2``, the new DEFAULT) and
     another dataset with other categories (``CATDOG_V1``); each sizes the head from its meta;
  2. custom weights (a fine-tuned file) passed as a ``Weights`` value;
  3. an architecture change as a new ``*_v2`` builder with its own enum;
  4. old code runs unchanged: ``tinynet(pretrained=True)`` still loads what it always loaded.

The "released" files are seeded synthetic checkpoints written to a temporary directory (a
real release is an https:// URL with a sha256).

Run: python examples/scenario1_multi_weights.py
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from functools import partial
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from modelver import Weights, WeightsEnum, get_model, get_model_weights, handle_legacy_interface, register_model
from modelver.models import ResNet50_Weights
from modelver.testing import synthetic_state_dict
from modelver.transforms import ImageClassification

RELEASES = Path(tempfile.mkdtemp(prefix="modelver-scenario1-"))
atexit.register(shutil.rmtree, RELEASES, ignore_errors=True)
IMAGENET = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 1000, width: int = 16, depth: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((-2, -1)))


def _entry(file: str, categories: list[str], **meta: Any) -> Weights:
    return Weights(
        url=str(RELEASES / file),
        transforms=partial(ImageClassification, crop_size=64, resize_size=72),
        meta={"categories": categories, **meta},
    )


class TinyNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry(
        "tinynet-imagenet-v1.pth", IMAGENET, recipe="the 2019 recipe", _metrics={"ImageNet-1K": {"acc@1": 61.2}}
    )
    IMAGENET1K_V2 = _entry(
        "tinynet-imagenet-v2.pth", IMAGENET, recipe="the 2022 recipe", _metrics={"ImageNet-1K": {"acc@1": 66.8}}
    )
    CATDOG_V1 = _entry("tinynet-catdog-v1.pth", ["cat", "dog"], recipe="fine-tuned on cats and dogs")
    DEFAULT = IMAGENET1K_V2  # was IMAGENET1K_V1 until V2 was released


class TinyNet_V2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry(
        "tinynet-v2-imagenet-v1.pth", IMAGENET, recipe="the 2022 recipe", _metrics={"ImageNet-1K": {"acc@1": 70.3}}
    )
    DEFAULT = IMAGENET1K_V1


def _build(weights: Any, progress: bool, **kwargs: Any) -> TinyNet:
    if weights is not None:
        kwargs["num_classes"] = len(weights.meta["categories"])
    model = TinyNet(**kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress))
    return model


@register_model()
@handle_legacy_interface(weights=("pretrained", TinyNet_Weights.IMAGENET1K_V1))  # what pretrained=True always meant
def tinynet(*, weights: Optional[TinyNet_Weights] = None, progress: bool = True, **kwargs: Any) -> TinyNet:
    return _build(TinyNet_Weights.verify(weights), progress, **kwargs)


@register_model()
def tinynet_v2(*, weights: Optional[TinyNet_V2_Weights] = None, progress: bool = True, **kwargs: Any) -> TinyNet:
    """The changed architecture (deeper): a new builder, so ``tinynet``'s weights keep loading into ``tinynet``."""
    return _build(TinyNet_V2_Weights.verify(weights), progress, depth=3, **kwargs)


def publish() -> None:
    """Stand-in for the releases: a seeded checkpoint per entry."""
    for seed, (builder, entry) in enumerate(
        [(tinynet, e) for e in TinyNet_Weights] + [(tinynet_v2, e) for e in TinyNet_V2_Weights]
    ):
        torch.save(synthetic_state_dict(builder(num_classes=len(entry.meta["categories"])), seed=seed), entry.url)


def same_weights(model: nn.Module, weights: Any) -> bool:
    loaded = weights.get_state_dict(progress=False)
    return all(torch.equal(value, loaded[key]) for key, value in model.state_dict().items())


def main() -> None:
    publish()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    print("1. one builder, several entries:")
    for name, entry in get_model_weights("tinynet").__members__.items():
        if name != entry.name:
            print(f"   {name} -> {entry!r}")
            continue
        print(f"   {entry!r}: {len(entry.meta['categories'])} categories, {entry.meta['recipe']}")
    newest = tinynet(weights="DEFAULT").eval()
    catdog = get_model("tinynet", weights=TinyNet_Weights.CATDOG_V1).eval()
    print(
        f"   DEFAULT loads {TinyNet_Weights.DEFAULT!r}: {same_weights(newest, TinyNet_Weights.IMAGENET1K_V2)}, "
        f"{newest(x).shape[-1]} outputs"
    )
    with torch.inference_mode():
        label = TinyNet_Weights.CATDOG_V1.meta["categories"][catdog(x).argmax().item()]
    print(f"   CATDOG_V1 has {catdog(x).shape[-1]} outputs, named from its meta: {label!r}")

    print("2. custom weights as a Weights value:")
    finetuned = RELEASES / "my-hotdog-model.pth"
    torch.save(synthetic_state_dict(tinynet(num_classes=2), seed=42), finetuned)
    custom = Weights(
        url=str(finetuned), transforms=TinyNet_Weights.DEFAULT.transforms, meta={"categories": ["hotdog", "not hotdog"]}
    )
    mine = tinynet(weights=custom).eval()
    print(
        f"   tinynet(weights=Weights(url=...my-hotdog-model.pth)): {mine(x).shape[-1]} outputs, "
        f"loaded: {same_weights(mine, custom)}"
    )

    print("3. a changed architecture is a new builder with its own enum:")
    deeper = tinynet_v2(weights="DEFAULT")
    print(
        f"   tinynet_v2(weights='DEFAULT') loads {TinyNet_V2_Weights.DEFAULT!r}: "
        f"{same_weights(deeper, TinyNet_V2_Weights.DEFAULT)}, {len(deeper.features)} feature layers "
        f"(tinynet: {len(newest.features)})"
    )
    try:
        tinynet_v2(weights=TinyNet_Weights.IMAGENET1K_V1)
    except TypeError as exc:
        print(f"   tinynet_v2(weights=TinyNet_Weights.IMAGENET1K_V1) is refused: {exc}")

    print("4. old code runs unchanged:")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        legacy = tinynet(pretrained=True)
    print(
        f"   tinynet(pretrained=True) still loads {TinyNet_Weights.IMAGENET1K_V1!r}: "
        f"{same_weights(legacy, TinyNet_Weights.IMAGENET1K_V1)} ({len(record)} deprecation warnings)"
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        untrained = tinynet(False)
    print(
        f"   tinynet(False) is still an untrained model: {not same_weights(untrained, TinyNet_Weights.IMAGENET1K_V1)} "
        f"({len(record)} deprecation warnings)"
    )


if __name__ == "__main__":
    main()
