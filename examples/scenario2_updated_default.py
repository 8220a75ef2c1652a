"""Scenario 2 of the model-versioning RFC: an updated default hyper-parameter (BC-breaking).

Real-world case: ``torchvision.ops.FrozenBatchNorm2d`` computed ``1 / sqrt(running_var + eps)``
with ``eps=0.0``, which made training unstable; torchvision changed the default to ``1e-5``
(https://github.com/pytorch/vision/issues/2599, https://github.com/pytorch/vision/pull/2933).
The detection weights released before were trained with ``0.0`` and must keep it. torchvision
patches every layer after loading (``overwrite_eps(model, 0.0)``,
https://github.com/pytorch/vision/pull/2940); the RFC's answer, used here and in
``modelver.models.detection.fasterrcnn_resnet50_fpn`` for ``COCO_V1``, is to construct the model
with the old default::

    with ContextParams(FrozenBatchNorm2d, weights == OLD_ENTRY, eps=0.0):
        model = Model()

New training (``weights=None``) and weights trained after the change get the new default;
arguments given explicitly are never overridden.

The script trains nothing: a "release" (written to a temporary directory) holds weights and the
outputs the old code produced on a fixed input, as a published model's evaluation would. Some
channels have a tiny running variance, as frozen detector backbones do, which is where eps matters.

Run: python examples/scenario2_updated_default.py
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from modelver import ContextParams, Weights, WeightsEnum
from modelver.testing import synthetic_state_dict
from modelver.transforms import ObjectDetection

RELEASES = Path(tempfile.mkdtemp(prefix="modelver-scenario2-"))
atexit.register(shutil.rmtree, RELEASES, ignore_errors=True)


class Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = FrozenBatchNorm2d(16)  # eps: the library's default at construction time
        self.conv2 = nn.Conv2d(16, 8, 3, padding=1, bias=False)
        self.bn2 = FrozenBatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))


class Backbone_Weights(WeightsEnum):
    COCO_V1 = Weights(
        url=str(RELEASES / "backbone-coco-v1.pth"),
        transforms=ObjectDetection,
        meta={"trained_with": "FrozenBatchNorm2d eps=0.0 (before vision#2933)"},
    )
    COCO_V2 = Weights(
        url=str(RELEASES / "backbone-coco-v2.pth"),
        transforms=ObjectDetection,
        meta={"trained_with": "FrozenBatchNorm2d eps=1e-5"},
    )
    DEFAULT = COCO_V2


def backbone(*, weights: Optional[Backbone_Weights] = None, progress: bool = True) -> Backbone:
    weights = Backbone_Weights.verify(weights)
    with ContextParams(FrozenBatchNorm2d, weights == Backbone_Weights.COCO_V1, eps=0.0):
        model = Backbone()
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress)["model"])
    return model.eval()


INPUT = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def publish() -> None:
    """Stand-in for the releases: weights plus the outputs of the code that trained them."""
    for seed, (entry, eps) in enumerate([(Backbone_Weights.COCO_V1, 0.0), (Backbone_Weights.COCO_V2, 1e-5)]):
        state = synthetic_state_dict(Backbone(), seed=seed)
        state["bn1.running_var"][:4] = 1e-6  # near-dead channels
        trained = Backbone()
        trained.bn1.eps = trained.bn2.eps = eps  # the code of its time
        trained.load_state_dict(state)
        with torch.inference_mode():
            torch.save({"model": state, "reference_output": trained.eval()(INPUT)}, entry.url)


def check(name: str, model: Backbone, entry: Any) -> None:
    reference = torch.load(entry.url, weights_only=True)["reference_output"]
    with torch.inference_mode():
        out = model(INPUT)
    print(
        f"   {name}: eps={model.bn1.eps:g}, reproduces the release's outputs: {torch.equal(out, reference)} "
        f"(max |diff| {(out - reference).abs().max().item():.3g})"
    )


def main() -> None:
    publish()
    print(f"FrozenBatchNorm2d's default eps today: {FrozenBatchNorm2d(1).eps:g}")
    print("1. old weights keep the old default:")
    check("backbone(weights=COCO_V1)", backbone(weights=Backbone_Weights.COCO_V1), Backbone_Weights.COCO_V1)
    naive = Backbone()
    naive.load_state_dict(Backbone_Weights.COCO_V1.get_state_dict(progress=False)["model"])
    check("COCO_V1 loaded into a model built with today's default", naive.eval(), Backbone_Weights.COCO_V1)
    print("2. newer weights and new training get the new default:")
    check("backbone(weights=COCO_V2)", backbone(weights=Backbone_Weights.COCO_V2), Backbone_Weights.COCO_V2)
    print(f"   backbone(weights=None): eps={backbone().bn1.eps:g}")
    print("3. the override ends with the construction:")
    print(f"   FrozenBatchNorm2d(1).eps after building COCO_V1: {FrozenBatchNorm2d(1).eps:g}")


if __name__ == "__main__":
    main()
