"""Scenario 3 of the model-versioning RFC: a code change that alters behaviour, same architecture (BC-breaking).

Real-world case: RoIAlign sampled each box half a pixel off. Detectron2 fixed it ("ROIAlignV2";
``torchvision.ops.roi_align(..., aligned=True)`` shifts the box by -0.5 pixel) without changing
a single parameter: checkpoints load into either version, but outputs change, and models trained
with the old sampling are evaluated with it (Detectron2 keeps both as ``POOLER_TYPE`` "ROIAlign"
and "ROIAlignV2"). The RFC's own example of this scenario is torchvision's FPN initialisation fix
(https://github.com/pytorch/vision/issues/2326, https://github.com/pytorch/vision/pull/2954).

The condition. The fix is for new training; the old behaviour is for the weights trained with
it. So the old code path is selected when the requested weights are one of the entries trained
before the fix::

    with ContextParams(BoxHead, weights in TRAINED_BEFORE_THE_FIX, aligned=False):
        model = BoxHead(...)

The RFC's example uses ``ContextParams(..., weights is None, ...)``: that gives the old
behaviour to *new training* and the new behaviour to the *old weights*, the opposite of what
the scenario asks. (For an initialisation-only fix the old weights do not notice, since loading
replaces every initialised value; the one case the fix affects, ``weights=None``, is exactly the
one that condition sends to the old code.) This script shows the right condition and, on the
same weights, what the RFC's condition would do.

The releases are written to a temporary directory: weights plus the outputs the code of their
time produced on a fixed input, as a published model's evaluation would.

Run: python examples/scenario3_behaviour_change.py
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torchvision.ops import roi_align

from modelver import ContextParams, Weights, WeightsEnum
from modelver.testing import synthetic_state_dict
from modelver.transforms import ObjectDetection

RELEASES = Path(tempfile.mkdtemp(prefix="modelver-scenario3-"))
atexit.register(shutil.rmtree, RELEASES, ignore_errors=True)
CATEGORIES = ["background", "cat", "dog"]


class BoxHead(nn.Module):
    """Classifies boxes from a stride-4 feature map through RoIAlign.

    ``aligned=True`` is the fixed sampling; ``False`` is the code that older weights were
    trained with. The keyword exists only so that builders can select the old code path.
    """

    def __init__(self, num_classes: int = 3, aligned: bool = True) -> None:
        super().__init__()
        self.aligned = aligned
        self.features = nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), nn.ReLU())
        self.classifier = nn.Linear(8 * 7 * 7, num_classes)

    def forward(self, images: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        pooled = roi_align(self.features(images), boxes, 7, spatial_scale=0.25, sampling_ratio=2, aligned=self.aligned)
        return self.classifier(pooled.flatten(1))


def _entry(file: str, note: str) -> Weights:
    return Weights(url=str(RELEASES / file), transforms=ObjectDetection, meta={"categories": CATEGORIES, "_docs": note})


class BoxHead_Weights(WeightsEnum):
    COCO_V1 = _entry("boxhead-coco-v1.pth", "trained with the legacy RoIAlign sampling")
    COCO_V2 = _entry("boxhead-coco-v2.pth", "trained after the alignment fix")
    DEFAULT = COCO_V2


TRAINED_BEFORE_THE_FIX = (BoxHead_Weights.COCO_V1,)


def _load(model: BoxHead, weights: Any, progress: bool) -> BoxHead:
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress)["model"])
    return model.eval()


def boxhead(*, weights: Optional[BoxHead_Weights] = None, progress: bool = True) -> BoxHead:
    weights = BoxHead_Weights.verify(weights)
    with ContextParams(BoxHead, weights in TRAINED_BEFORE_THE_FIX, aligned=False):
        model = BoxHead(num_classes=len(CATEGORIES))
    return _load(model, weights, progress)


def boxhead_rfc_condition(*, weights: Optional[BoxHead_Weights] = None, progress: bool = True) -> BoxHead:
    """The same builder with the RFC example's condition, for comparison only."""
    weights = BoxHead_Weights.verify(weights)
    with ContextParams(BoxHead, weights is None, aligned=False):
        model = BoxHead(num_classes=len(CATEGORIES))
    return _load(model, weights, progress)


IMAGES = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
BOXES = [torch.tensor([[3.0, 5.0, 29.0, 41.0], [20.0, 10.0, 60.0, 50.0], [0.0, 0.0, 13.0, 9.0]])]


def publish() -> None:
    """Stand-in for the releases: weights plus the outputs of the code that trained them."""
    for seed, entry in enumerate(BoxHead_Weights):
        state = synthetic_state_dict(BoxHead(), seed=seed)
        trained = BoxHead(aligned=entry not in TRAINED_BEFORE_THE_FIX)
        trained.load_state_dict(state)
        with torch.inference_mode():
            torch.save({"model": state, "reference_output": trained.eval()(IMAGES, BOXES)}, entry.url)


def report(name: str, model: BoxHead, entry: Any = None) -> None:
    line = f"   {name}: aligned={model.aligned}"
    if entry is not None:
        reference = torch.load(entry.url, weights_only=True)["reference_output"]
        with torch.inference_mode():
            out = model(IMAGES, BOXES)
        line += f", reproduces the release's outputs: {torch.equal(out, reference)}"
        line += f" (max |diff| {(out - reference).abs().max().item():.3g})"
    print(line)


def main() -> None:
    publish()
    print("Right condition: the old code path for the entries trained before the fix")
    report("boxhead(weights=COCO_V1)", boxhead(weights=BoxHead_Weights.COCO_V1), BoxHead_Weights.COCO_V1)
    report("boxhead(weights=COCO_V2)", boxhead(weights=BoxHead_Weights.COCO_V2), BoxHead_Weights.COCO_V2)
    report("boxhead(weights=None), new training", boxhead())
    print("The RFC example's condition (weights is None), on the same releases")
    report("boxhead(weights=COCO_V1)", boxhead_rfc_condition(weights=BoxHead_Weights.COCO_V1), BoxHead_Weights.COCO_V1)
    report("boxhead(weights=None), new training", boxhead_rfc_condition())


if __name__ == "__main__":
    main()
