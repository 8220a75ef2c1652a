"""Faster R-CNN with a ResNet-50-FPN backbone, v1 and v2, on torchvision's detection classes.

The real cases of two of the RFC's scenarios:

- ``fasterrcnn_resnet50_fpn_v2`` (https://github.com/pytorch/vision/pull/5763) changes the
  architecture (BatchNorm in the FPN and heads, a deeper RPN head, a conv box head), so it
  is a new builder with its own enum; ``fasterrcnn_resnet50_fpn`` keeps its behaviour.
- ``FasterRCNN_ResNet50_FPN_Weights.COCO_V1`` was trained when ``FrozenBatchNorm2d``'s
  ``eps`` was 0.0; torchvision changed the default to 1e-5 for new training
  (https://github.com/pytorch/vision/pull/2933). The builder constructs the model for that
  entry under ``ContextParams(FrozenBatchNorm2d, ..., eps=0.0)`` instead of patching the
  layers after loading (torchvision's ``overwrite_eps``).

The models are built on the ``meta`` device when weights are given. The one plain tensor
Faster R-CNN makes in ``__init__`` (the anchor generator's cell anchors) is made outside,
on the CPU, and passed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from torch import nn

from ..._build import build_model
from ..._legacy import handle_legacy_interface
from ..._registry import register_model
from ..._weights import Weights, WeightsEnum, overwrite_value_param
from ...context import ContextParams
from ...transforms import ObjectDetection
from .._lazy import lazy_module
from .._meta import COCO_CATEGORIES
from ..resnet import ResNet50_Weights, resnet50

if TYPE_CHECKING:
    import torchvision.models.detection.faster_rcnn as tv_frcnn
else:  # imported when a hint is evaluated (typing.get_type_hints), not when this module is
    tv_frcnn = lazy_module('torchvision.models.detection.faster_rcnn')

__all__ = [
    "FasterRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_ResNet50_FPN_Weights",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
]

_COMMON_META = {
    "task": "object_detection",
    "categories": COCO_CATEGORIES,
    "min_size": (1, 1),
    "license": "BSD-3-Clause",
    "source": "torchvision release (download.pytorch.org), the files torchvision.models.detection loads",
    "preprocessing": {
        "rescale": "[0, 1] float; the model resizes (shorter side 800, longer at most 1333) and normalises inside",
    },
}


class FasterRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = Weights(
        url="https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=ObjectDetection,
        meta={
            **_COMMON_META,
            "num_params": 41755286,
            "recipe": "https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-resnet-50-fpn",
            "_metrics": {"COCO-val2017": {"box_map": 37.0}},
            "_ops": 134.38,
            "_file_size": 159.743,
            "superseded_by": "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1 (a new builder, fasterrcnn_resnet50_fpn_v2: "
            "changed architecture, box mAP 46.7)",
            "_docs": "These weights were produced by following a similar training recipe as on the paper. "
            "They were trained with FrozenBatchNorm2d eps=0.0, which the builder keeps for them.",
        },
    )
    DEFAULT = COCO_V1


class FasterRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = Weights(
        url="https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=ObjectDetection,
        meta={
            **_COMMON_META,
            "num_params": 43712278,
            "recipe": "https://github.com/pytorch/vision/pull/5763",
            "_metrics": {"COCO-val2017": {"box_map": 46.7}},
            "_ops": 280.371,
            "_file_size": 167.104,
            "supersedes": "FasterRCNN_ResNet50_FPN_Weights.COCO_V1 (fasterrcnn_resnet50_fpn)",
            "_docs": "These weights were produced using an enhanced training recipe to boost the model accuracy.",
        },
    )
    DEFAULT = COCO_V1


def _num_classes(num_classes: Optional[int], weights: Any) -> int:
    if weights is not None:
        return int(overwrite_value_param("num_classes", num_classes, len(weights.meta["categories"])))
    return 91 if num_classes is None else num_classes


def _trainable_layers(trainable_backbone_layers: Optional[int], weights: Any, weights_backbone: Any) -> int:
    from torchvision.models.detection.backbone_utils import _validate_trainable_layers

    is_trained = weights is not None or weights_backbone is not None
    return int(_validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 3))


def _build(factory: Callable[[], tv_frcnn.FasterRCNN], weights: Any, progress: bool, kwargs: dict[str, Any]) -> tv_frcnn.FasterRCNN:
    from torchvision.models.detection.faster_rcnn import _default_anchorgen

    # Made here, on the CPU: its cell anchors are plain tensors that a meta-device build would leave empty.
    kwargs.setdefault("rpn_anchor_generator", _default_anchorgen())
    return build_model(factory, weights, progress)


@register_model()
@handle_legacy_interface(
    weights=("pretrained", FasterRCNN_ResNet50_FPN_Weights.COCO_V1),
    weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1),
)
def fasterrcnn_resnet50_fpn(
    *,
    weights: Optional[FasterRCNN_ResNet50_FPN_Weights] = None,
    progress: bool = True,
    num_classes: Optional[int] = None,
    weights_backbone: Optional[ResNet50_Weights] = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: Optional[int] = None,
    **kwargs: Any,
) -> tv_frcnn.FasterRCNN:
    """Faster R-CNN with a ResNet-50-FPN backbone (`Ren et al. <https://arxiv.org/abs/1506.01497>`_).

    Args:
        weights: ``FasterRCNN_ResNet50_FPN_Weights.COCO_V1`` (= ``DEFAULT``, box mAP 37.0),
            a name, a custom ``Weights``, or None. When given, ``weights_backbone`` is ignored.
        progress: show a progress bar while downloading.
        num_classes: output classes including the background (91 for COCO; checked
            against the weights' categories when weights are given).
        weights_backbone: ImageNet weights of the ResNet-50 backbone for training
            (default ``ResNet50_Weights.IMAGENET1K_V1``, as torchvision); None for random.
        trainable_backbone_layers: 0 to 5 backbone stages left trainable (default 3).
        **kwargs: passed to ``torchvision.models.detection.FasterRCNN`` (``min_size``,
            ``box_score_thresh``, ...).

    Input: a list of float images (C, H, W) in [0, 1] (``weights.transforms()``); in eval
    mode the output is a list of ``{"boxes", "labels", "scores"}``.

    Example::

        weights = FasterRCNN_ResNet50_FPN_Weights.DEFAULT
        model = fasterrcnn_resnet50_fpn(weights=weights, box_score_thresh=0.9).eval()
        detections = model([weights.transforms()(img)])[0]  # boxes, labels, scores
        names = [weights.meta["categories"][i] for i in detections["labels"]]
    """
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.models.detection.faster_rcnn import FasterRCNN
    from torchvision.ops import FrozenBatchNorm2d

    weights = FasterRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = None if weights is not None else ResNet50_Weights.verify(weights_backbone)
    num_classes = _num_classes(num_classes, weights)
    trainable = _trainable_layers(trainable_backbone_layers, weights, weights_backbone)
    trained = weights is not None or weights_backbone is not None
    norm_layer = FrozenBatchNorm2d if trained else nn.BatchNorm2d
    old_eps = weights == FasterRCNN_ResNet50_FPN_Weights.COCO_V1  # trained before vision#2933

    def factory() -> FasterRCNN:
        with ContextParams(FrozenBatchNorm2d, old_eps, eps=0.0):
            backbone = resnet50(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
        return FasterRCNN(_resnet_fpn_extractor(backbone, trainable), num_classes=num_classes, **kwargs)

    return _build(factory, weights, progress, kwargs)


@register_model()
@handle_legacy_interface(
    weights=("pretrained", FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1),
    weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1),
)
def fasterrcnn_resnet50_fpn_v2(
    *,
    weights: Optional[FasterRCNN_ResNet50_FPN_V2_Weights] = None,
    progress: bool = True,
    num_classes: Optional[int] = None,
    weights_backbone: Optional[ResNet50_Weights] = None,
    trainable_backbone_layers: Optional[int] = None,
    **kwargs: Any,
) -> tv_frcnn.FasterRCNN:
    """Improved Faster R-CNN ResNet-50-FPN from `Benchmarking Detection Transfer Learning with Vision
    Transformers <https://arxiv.org/abs/2111.11429>`_: a new architecture, hence a new builder.

    Args:
        weights: ``FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1`` (= ``DEFAULT``, box mAP
            46.7), a name, a custom ``Weights``, or None. When given, ``weights_backbone`` is ignored.
        progress: show a progress bar while downloading.
        num_classes: output classes including the background (91 for COCO).
        weights_backbone: ImageNet weights of the backbone for training (default None).
        trainable_backbone_layers: 0 to 5 backbone stages left trainable (default 3).
        **kwargs: passed to ``torchvision.models.detection.FasterRCNN``.

    Example::

        weights = FasterRCNN_ResNet50_FPN_V2_Weights.DEFAULT
        model = fasterrcnn_resnet50_fpn_v2(weights=weights, box_score_thresh=0.9).eval()
        detections = model([weights.transforms()(img)])[0]  # boxes, labels, scores
    """
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNConvFCHead, RPNHead

    weights = FasterRCNN_ResNet50_FPN_V2_Weights.verify(weights)
    weights_backbone = None if weights is not None else ResNet50_Weights.verify(weights_backbone)
    num_classes = _num_classes(num_classes, weights)
    trainable = _trainable_layers(trainable_backbone_layers, weights, weights_backbone)

    def factory() -> FasterRCNN:
        backbone = resnet50(weights=weights_backbone, progress=progress)
        backbone = _resnet_fpn_extractor(backbone, trainable, norm_layer=nn.BatchNorm2d)
        anchors = kwargs["rpn_anchor_generator"]
        rpn_head = RPNHead(backbone.out_channels, anchors.num_anchors_per_location()[0], conv_depth=2)
        box_head = FastRCNNConvFCHead(
            (backbone.out_channels, 7, 7), [256, 256, 256, 256], [1024], norm_layer=nn.BatchNorm2d
        )
        return FasterRCNN(backbone, num_classes=num_classes, **{"rpn_head": rpn_head, "box_head": box_head, **kwargs})

    return _build(factory, weights, progress, kwargs)
