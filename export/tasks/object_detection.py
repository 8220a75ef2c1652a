"""Object detection bundles: uint8 images (B, 3, H, W) of any size → boxes, scores and labels per image.

For torchvision's detection models (``GeneralizedRCNN``: Faster R-CNN v1 and v2). The model's
own transform is inside the bundle: scale to [0, 1], normalise, resize so the shorter side is
``min_size`` and the longer at most ``max_size``, pad to a multiple of ``size_divisible``;
the boxes come back in the input's pixel coordinates.

Outputs, padded to the model's ``detections_per_img`` (D) so that a batch is one tensor and
Triton can split it per request:

- ``boxes`` float32 (B, D, 4), (x1, y1, x2, y2) in input pixels,
- ``scores`` float32 (B, D), best first,
- ``labels`` int64 (B, D), indices into ``meta["categories"]``,
- ``num_detections`` int64 (B,): rows past it are zeros.

How each format gets there, found by trying (torch 2.14, torchvision 0.29):

- TorchScript: torchvision's detection models are written for ``torch.jit.script``.
- ONNX: the TorchScript-based exporter (``dynamo=False``, deprecated by torch but the one
  torchvision documents for these models) traces one image with dynamic height and width;
  the trace unrolls torchvision's per-image loops, so the bundle wraps that graph in an ONNX
  ``Loop`` over the batch. The dynamo exporter goes through ``torch.export``, which cannot
  capture the model (see ``.pt2``).
- ``.pt2``: refused (the reason is registered in ``modelver_export._builtins``).

torchvision computes the resized size in float32 when scripted or traced and in float64 in
eager mode; for many sizes the two floor to sizes one pixel apart (a 160x200 image with
``min_size=128``: 127x159 traced, 128x160 eager), which moves every box. The bundle's copy of
the transform computes the size as eager does, in float64, in every mode. (No
``from __future__ import annotations`` here: TorchScript reads the annotations of
``_traced_size`` at run time.)
"""

import math
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch
import torchvision
from torch import Tensor, nn
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from modelver.errors import BundleError

from ._base import Case, TaskExporter, image_cases

__all__ = ["DetectionPipeline", "ObjectDetectionExporter", "align_detections"]

INPUT = "images"
OUTPUTS = ("boxes", "scores", "labels", "num_detections")
#: The TorchScript-based ONNX exporter writes opsets up to this one.
MAX_ONNX_OPSET = 20


@torch.jit.unused
def _traced_size(image: Tensor, shorter_target: float, longer_limit: float) -> List[int]:
    """The resized (height, width) as traced tensors, so the ONNX graph computes it from the input's shape."""
    from torch.onnx import operators

    hw = operators.shape_as_tensor(image)[-2:].to(torch.float64)
    # float64 tensors on both sides: the exporter writes a Python float as a float32 constant and
    # ``float / tensor`` as Reciprocal + Mul, which floors 150x200 → 119x159 where eager gives 120x160
    shorter = torch.tensor(shorter_target, dtype=torch.float64)
    longer = torch.tensor(longer_limit, dtype=torch.float64)
    scale = torch.minimum(torch.div(shorter, hw.min()), torch.div(longer, hw.max()))
    size = torch.floor(hw * scale).to(torch.int64)
    return [size[0], size[1]]  # type: ignore[list-item]  # tensors while tracing, like torchvision's _fake_cast_onnx


class ExactResizeTransform(GeneralizedRCNNTransform):
    """torchvision's ``GeneralizedRCNNTransform`` whose resize computes the output size in float64 in every mode.

    Eager torchvision takes ``floor(side * min(min_size / shorter, max_size / longer))`` in
    Python floats; scripted and traced it uses float32 tensors, which floors to one pixel
    less for many sizes. Same parameters, same interpolation (bilinear, no antialiasing).
    Inference only: the bundle never trains and has no targets.
    """

    @classmethod
    def like(cls, transform: GeneralizedRCNNTransform) -> "ExactResizeTransform":
        if transform.fixed_size is not None:
            raise BundleError("object detection bundles resize by min_size / max_size; this model has a fixed_size.")
        return cls(
            min_size=transform.min_size,
            max_size=transform.max_size,
            image_mean=list(transform.image_mean),
            image_std=list(transform.image_std),
            size_divisible=transform.size_divisible,
        ).eval()

    def resize(
        self, image: Tensor, target: Optional[Dict[str, Tensor]] = None
    ) -> Tuple[Tensor, Optional[Dict[str, Tensor]]]:
        shorter_target = float(self.min_size[-1])
        longer_limit = float(self.max_size)
        if torchvision._is_tracing():  # the ONNX trace: keep the size a function of the input's shape
            out_size = _traced_size(image, shorter_target, longer_limit)
        else:
            height, width = image.shape[-2], image.shape[-1]
            scale = min(shorter_target / min(height, width), longer_limit / max(height, width))
            out_size = [int(math.floor(height * scale)), int(math.floor(width * scale))]  # noqa: RUF046 - TorchScript
        resized = nn.functional.interpolate(image[None], size=out_size, mode="bilinear", align_corners=False)[0]
        return resized, target


def _detector(model: nn.Module) -> GeneralizedRCNN:
    """The same backbone, RPN and box heads as ``model``, with the exact-resize copy of its transform."""
    if not isinstance(model, GeneralizedRCNN):
        raise BundleError(
            f"{type(model).__name__} is not a torchvision GeneralizedRCNN; object detection bundles support "
            "Faster R-CNN style models."
        )
    if not isinstance(model.transform, GeneralizedRCNNTransform):
        raise BundleError(f"{type(model).__name__}.transform is not torchvision's GeneralizedRCNNTransform.")
    transform = ExactResizeTransform.like(model.transform)
    detector = GeneralizedRCNN(model.backbone, model.rpn, model.roi_heads, transform).eval()
    # Scripted, torchvision warns on the first call that it returns (losses, detections); the
    # pipeline knows, and a bundle's users should not see it.
    detector._has_warned = True
    return detector


class DetectionPipeline(nn.Module):
    """uint8 images (B, 3, H, W) → boxes (B, D, 4), scores (B, D), labels (B, D), num_detections (B,).

    Numerically ``model([weights.transforms()(image) for image in images])`` (the model's own
    resize and normalisation inside), each image's detections padded with zeros to D.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.detector = _detector(model)
        self.detections_per_image = int(model.roi_heads.detections_per_img)

    def detect(self, images: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        if torch.jit.is_scripting():
            detections = self.detector(images)[1]  # scripted, torchvision returns (losses, detections)
        else:
            detections = self.detector(images)
        limit = self.detections_per_image
        boxes, scores, labels, counts = [], [], [], []
        for found in detections:
            missing = limit - found["scores"].shape[0]
            boxes.append(nn.functional.pad(found["boxes"], [0, 0, 0, missing]))
            scores.append(nn.functional.pad(found["scores"], [0, missing]))
            labels.append(nn.functional.pad(found["labels"], [0, missing]))
            counts.append(torch.ones_like(found["labels"]).sum())
        return torch.stack(boxes), torch.stack(scores), torch.stack(labels), torch.stack(counts)

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError("expected uint8 RGB images of shape (batch, 3, height, width)")
        floats = images.to(torch.float32) / 255.0  # modelver.transforms.ObjectDetection
        return self.detect(list(floats.unbind(0)))


class _OneImage(nn.Module):
    """The pipeline on one uint8 image (3, H, W): what the ONNX ``Loop`` body runs."""

    def __init__(self, pipeline: DetectionPipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        boxes, scores, labels, count = self.pipeline.detect([image.to(torch.float32) / 255.0])
        return boxes[0], scores[0], labels[0], count[0]


def align_detections(reference: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``actual``'s detections of each image in the order of ``reference``'s, paired by label and nearest box.

    Detections whose scores tie to within rounding may come out of NMS in either order;
    pairing them first lets the parity check compare each detection with its own. Images
    whose detection counts differ are left as they are (the count check fails for them).
    """
    out = {name: np.array(value, copy=True) for name, value in actual.items()}
    for image in range(reference["num_detections"].shape[0]):
        count = int(reference["num_detections"][image])
        if count != int(actual["num_detections"][image]) or count == 0:
            continue
        ref_boxes, got_boxes = reference["boxes"][image, :count], actual["boxes"][image, :count]
        cost = np.abs(ref_boxes[:, None, :].astype(np.float64) - got_boxes[None, :, :]).max(-1)
        cost[reference["labels"][image, :count][:, None] != actual["labels"][image, :count][None, :]] = np.inf
        order, taken = [], np.zeros(count, dtype=bool)
        for row in cost:
            row = np.where(taken, np.inf, row)
            best = int(np.argmin(row))
            taken[best] = True
            order.append(best)
        for name in ("boxes", "scores", "labels"):
            out[name][image, :count] = actual[name][image, :count][order]
    return out


class ObjectDetectionExporter(TaskExporter):
    task = "object_detection"
    # Boxes in input pixels; scores are probabilities. Measured with synthetic weights (min_size 128) against
    # the same model in float64: eager float32 is off by up to 7.5e-5 in scores and 3e-3 px in boxes,
    # onnxruntime by 2.2e-4 and 1.2e-2 px (its convolutions and RoiAlign sum in other orders), TorchScript
    # between the two. The bounds leave about 2x headroom over onnxruntime's.
    tolerances: ClassVar[Mapping[str, float]] = {"boxes": 0.05, "scores": 5e-4, "labels": 0.0, "num_detections": 0.0}
    tolerance_note = "absolute: boxes in input pixels, scores as probabilities; labels and counts exact"
    parity_note = (
        "every image's detections: the count exactly, then each detection paired with eager's of the same label and "
        "nearest box (ties in score may leave NMS in either order), its box, score and label"
    )

    def __init__(self, name: str, model: Any, weights: Any, weights_label: str) -> None:
        super().__init__(name, model, weights, weights_label)
        categories = weights.meta.get("categories")
        if not categories:
            raise BundleError(f"{weights_label} has no meta['categories']: an object detection bundle needs them.")
        self.categories: List[str] = list(categories)
        self.pipeline = DetectionPipeline(model).eval()  # checks the model's kind first
        self.transforms = weights.transforms()
        transform = model.transform
        self.min_size = int(transform.min_size[-1])
        self.max_size = int(transform.max_size)
        self.limit = self.pipeline.detections_per_image

    @classmethod
    def check_options(cls, formats: list[Any], options: Mapping[str, Any]) -> None:
        opset = options.get("opset")
        if opset is not None and opset > MAX_ONNX_OPSET and any(f.needs == "onnx" for f in formats):
            raise BundleError(
                f"--opset {opset}: object detection ONNX bundles come from torch's TorchScript-based exporter, "
                f"which writes opsets up to {MAX_ONNX_OPSET}; choose 18 to {MAX_ONNX_OPSET}."
            )

    # --- description -------------------------------------------------------------------
    def inputs(self) -> list[dict[str, Any]]:
        return [
            {
                "name": INPUT,
                "dtype": "uint8",
                "shape": ["batch", 3, "height", "width"],
                "description": "RGB images, values 0-255, any height and width (the bundle resizes and normalises)",
            }
        ]

    def outputs(self) -> list[dict[str, Any]]:
        limit = self.limit
        return [
            {
                "name": "boxes",
                "dtype": "float32",
                "shape": ["batch", limit, 4],
                "description": "x1, y1, x2, y2 in the input's pixels; rows past num_detections are zeros",
            },
            {"name": "scores", "dtype": "float32", "shape": ["batch", limit], "description": "best first"},
            {
                "name": "labels",
                "dtype": "int64",
                "shape": ["batch", limit],
                "description": "index into meta['categories']",
            },
            {"name": "num_detections", "dtype": "int64", "shape": ["batch"], "description": "detections per image"},
        ]

    def task_meta(self) -> dict[str, Any]:
        transform = self.model.transform
        heads = self.model.roi_heads
        return {
            "categories": self.categories,
            "preprocessing": {
                "input": "uint8 RGB (B, 3, H, W), any H and W",
                "min_size": self.min_size,
                "max_size": self.max_size,
                "mean": [float(m) for m in transform.image_mean],
                "std": [float(s) for s in transform.image_std],
                "size_divisible": int(transform.size_divisible),
                "steps": [
                    "divide by 255, subtract mean, divide by std",
                    (f"resize (bilinear) by min({self.min_size} / shorter side, {self.max_size} / longer side), "
                    "sizes floored"),
                    f"pad to a multiple of {int(transform.size_divisible)}",
                ],
            },
            "detection": {
                "box_format": "xyxy, input pixels",
                "detections_per_image": self.limit,
                "score_threshold": float(heads.score_thresh),
                "nms_threshold": float(heads.nms_thresh),
            },
        }

    def doc_lines(self) -> list[str]:
        return [
            f"Input `{INPUT}`: uint8 RGB images, shape (batch, 3, height, width), any height and width.",
            f"Preprocessing inside the model: {'; '.join(self.task_meta()['preprocessing']['steps'])}.",
            (f"Outputs, padded to {self.limit} detections per image: `boxes` float32 (batch, {self.limit}, 4) "
            f"x1, y1, x2, y2 in input pixels; `scores` float32 (batch, {self.limit}); `labels` int64 "
            f"(batch, {self.limit}), indices into the metadata key `categories`; `num_detections` int64 (batch,)."),
        ]

    # --- checking ----------------------------------------------------------------------
    def cases(self) -> list[Case]:
        shapes = [("random, 128x160", (1, 3, 128, 160)), ("random, batch of 2, 150x200", (2, 3, 150, 200))]
        return image_cases(INPUT, "astronaut", shapes)

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``model([weights.transforms()(image) ...])``, each image's detections padded to D."""
        images = torch.from_numpy(np.ascontiguousarray(inputs[INPUT]))
        with torch.inference_mode():
            detections = self.model([self.transforms(image) for image in images])
        batch, limit = len(detections), self.limit
        out = {
            "boxes": np.zeros((batch, limit, 4), np.float32),
            "scores": np.zeros((batch, limit), np.float32),
            "labels": np.zeros((batch, limit), np.int64),
            "num_detections": np.zeros((batch,), np.int64),
        }
        for i, found in enumerate(detections):
            count = int(found["scores"].shape[0])
            out["num_detections"][i] = count
            for name in ("boxes", "scores", "labels"):
                out[name][i, :count] = found[name].numpy()
        return out

    def align(self, reference: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return align_detections(reference, actual)

    # --- artifacts ---------------------------------------------------------------------
    def torch_module(self) -> nn.Module:
        return self.pipeline

    def onnx_details(self) -> dict[str, Any]:
        return {
            "method": "torch.onnx.export (TorchScript-based, dynamo=False) of one image, "
            "in an ONNX Loop over the batch",
            "note": "torch deprecates the TorchScript-based exporter; the dynamo one cannot capture torchvision's "
            "detection models (it goes through torch.export, which stops at NMS's data-dependent branch; tried "
            "strict and non-strict for 11 minutes before failing, torch 2.14)",
        }

    def onnx_model(self, opset: int) -> Any:
        from .._onnx_detection import batch_loop, export_one_image

        if opset > MAX_ONNX_OPSET:
            raise BundleError(f"--opset {opset}: object detection ONNX bundles take opsets 18 to {MAX_ONNX_OPSET}.")
        one = export_one_image(_OneImage(self.pipeline).eval(), opset, OUTPUTS)
        return batch_loop(one, INPUT, OUTPUTS, self.outputs())
