"""ResNet-50 (He et al.) on torchvision's ``ResNet`` class, with torchvision's two ImageNet releases.

The architecture is torchvision's (imported inside the builder, so listing models and
reading the weights' meta stay free of torchvision); the entries point at the same files
torchvision downloads, so a cache torchvision filled is reused. ``IMAGENET1K_V2`` is the
RFC's scenario 1 on its real case: a newer training recipe, same code, a second entry
(https://github.com/pytorch/vision/issues/3995).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Optional

from .._build import build_model
from .._legacy import handle_legacy_interface
from .._registry import register_model
from .._weights import Weights, WeightsEnum, overwrite_named_param
from ..transforms import ImageClassification
from ._lazy import lazy_module
from ._meta import IMAGENET_CATEGORIES

if TYPE_CHECKING:
    import torchvision.models.resnet as tv_resnet
else:  # imported when a hint is evaluated (typing.get_type_hints), not when this module is
    tv_resnet = lazy_module('torchvision.models.resnet')

__all__ = ["ResNet50_Weights", "resnet50"]


_COMMON_META = {
    "task": "image_classification",
    "categories": IMAGENET_CATEGORIES,
    "num_params": 25557032,
    "min_size": (1, 1),
    "license": "BSD-3-Clause",
    "source": "torchvision release (download.pytorch.org), the files torchvision.models.resnet50 loads",
    "_ops": 4.089,
}


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/resnet50-0676ba61.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=partial(ImageClassification, crop_size=224),
        meta={
            **_COMMON_META,
            "recipe": "https://github.com/pytorch/vision/tree/main/references/classification#resnet",
            "_metrics": {"ImageNet-1K": {"acc@1": 76.130, "acc@5": 92.862}},
            "_file_size": 97.781,
            "superseded_by": "ResNet50_Weights.IMAGENET1K_V2 (TorchVision's new training recipe, +4.7 Acc@1)",
            "_docs": "These weights reproduce closely the results of the paper using a simple training recipe.",
        },
    )
    IMAGENET1K_V2 = Weights(
        url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=partial(ImageClassification, crop_size=224, resize_size=232),
        meta={
            **_COMMON_META,
            "recipe": "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621",
            "_metrics": {"ImageNet-1K": {"acc@1": 80.858, "acc@5": 95.434}},
            "_file_size": 97.79,
            "supersedes": "ResNet50_Weights.IMAGENET1K_V1",
            "_docs": "These weights improve upon the results of the original paper by using TorchVision's new "
            "training recipe (https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-"
            "latest-primitives/).",
        },
    )
    DEFAULT = IMAGENET1K_V2


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet50_Weights.IMAGENET1K_V1))
def resnet50(*, weights: Optional[ResNet50_Weights] = None, progress: bool = True, **kwargs: Any) -> tv_resnet.ResNet:
    """ResNet-50 from `Deep Residual Learning for Image Recognition <https://arxiv.org/abs/1512.03385>`_ (V1.5).

    Args:
        weights: ``ResNet50_Weights.IMAGENET1K_V1`` (76.1% top-1), ``IMAGENET1K_V2``
            (80.9%, = ``DEFAULT``), a name such as ``"DEFAULT"``, a custom ``Weights``, or
            None for random initialisation. ``pretrained=True`` still works and gives V1.
        progress: show a progress bar while downloading the weights.
        **kwargs: passed to ``torchvision.models.resnet.ResNet`` (``num_classes``,
            ``norm_layer``, ``zero_init_residual``, ...).

    Example::

        weights = ResNet50_Weights.DEFAULT
        model = resnet50(weights=weights).eval()
        probs = model(weights.transforms()(img).unsqueeze(0)).softmax(-1)
        print(weights.meta["categories"][probs.argmax()])
    """
    from torchvision.models.resnet import Bottleneck, ResNet

    weights = ResNet50_Weights.verify(weights)
    if weights is not None:
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    return build_model(partial(ResNet, Bottleneck, [3, 4, 6, 3], **kwargs), weights, progress)
