"""ViT-B/16 (Dosovitskiy et al.) on torchvision's ``VisionTransformer``, with torchvision's three ImageNet releases.

As ``resnet.py``: the class is imported inside the builder, the entries point at the files
torchvision downloads. The SWAG end-to-end entry is trained at 384 px: its meta sets the
model's ``image_size`` (the position embeddings), so one builder serves all three.
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
    import torchvision.models.vision_transformer as tv_vit
else:  # imported when a hint is evaluated (typing.get_type_hints), not when this module is
    tv_vit = lazy_module('torchvision.models.vision_transformer')

__all__ = ["ViT_B_16_Weights", "vit_b_16"]

_SWAG_LICENSE = "https://github.com/facebookresearch/SWAG/blob/main/LICENSE"


def _meta(size: int, **extra: Any) -> dict[str, Any]:
    return {
        "task": "image_classification",
        "categories": IMAGENET_CATEGORIES,
        "min_size": (size, size),
        "source": "torchvision release (download.pytorch.org), the files torchvision.models.vit_b_16 loads",
        **extra,
    }


class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vit_b_16-c867db91.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=partial(ImageClassification, crop_size=224),
        meta=_meta(
            224,
            num_params=86567656,
            license="BSD-3-Clause",
            recipe="https://github.com/pytorch/vision/tree/main/references/classification#vit_b_16",
            _metrics={"ImageNet-1K": {"acc@1": 81.072, "acc@5": 95.318}},
            _ops=17.564,
            _file_size=330.285,
            _docs="Trained from scratch with a modified version of DeIT's training recipe.",
        ),
    )
    IMAGENET1K_SWAG_E2E_V1 = Weights(
        url="https://download.pytorch.org/models/vit_b_16_swag-9ac1b537.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=partial(ImageClassification, crop_size=384, resize_size=384, interpolation="bicubic"),
        meta=_meta(
            384,
            num_params=86859496,
            license=_SWAG_LICENSE,
            recipe="https://github.com/facebookresearch/SWAG",
            _metrics={"ImageNet-1K": {"acc@1": 85.304, "acc@5": 97.65}},
            _ops=55.484,
            _file_size=331.398,
            _docs="SWAG weights fine-tuned end to end on ImageNet-1K (transfer learning).",
        ),
    )
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(
        url="https://download.pytorch.org/models/vit_b_16_lc_swag-4e70ced5.pth",
        check_hash=True,  # torch.hub name: full sha256 unpublished, the prefix is checked
        transforms=partial(ImageClassification, crop_size=224, resize_size=224, interpolation="bicubic"),
        meta=_meta(
            224,
            num_params=86567656,
            license=_SWAG_LICENSE,
            recipe="https://github.com/pytorch/vision/pull/5793",
            _metrics={"ImageNet-1K": {"acc@1": 81.886, "acc@5": 96.18}},
            _ops=17.564,
            _file_size=330.285,
            _docs="The frozen SWAG trunk with a linear classifier trained on ImageNet-1K.",
        ),
    )
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", ViT_B_16_Weights.IMAGENET1K_V1))
def vit_b_16(
    *, weights: Optional[ViT_B_16_Weights] = None, progress: bool = True, **kwargs: Any
) -> tv_vit.VisionTransformer:
    """ViT-B/16 from `An Image is Worth 16x16 Words <https://arxiv.org/abs/2010.11929>`_.

    Args:
        weights: ``ViT_B_16_Weights.IMAGENET1K_V1`` (= ``DEFAULT``, 81.1% top-1),
            ``IMAGENET1K_SWAG_E2E_V1`` (85.3%, 384 px), ``IMAGENET1K_SWAG_LINEAR_V1``
            (81.9%), a name, a custom ``Weights``, or None for random initialisation.
        progress: show a progress bar while downloading the weights.
        **kwargs: passed to ``torchvision.models.vision_transformer.VisionTransformer``
            (``num_classes``, ``image_size``, ``dropout``, ...).

    Example::

        weights = ViT_B_16_Weights.DEFAULT
        model = vit_b_16(weights=weights).eval()
        probs = model(weights.transforms()(img).unsqueeze(0)).softmax(-1)
    """
    from torchvision.models.vision_transformer import VisionTransformer

    weights = ViT_B_16_Weights.verify(weights)
    if weights is not None:
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        overwrite_named_param(kwargs, "image_size", weights.meta["min_size"][0])
    config = {"patch_size": 16, "num_layers": 12, "num_heads": 12, "hidden_dim": 768, "mlp_dim": 3072}
    return build_model(partial(VisionTransformer, **{"image_size": 224, **config, **kwargs}), weights, progress)
