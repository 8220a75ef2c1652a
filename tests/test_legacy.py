"""The old ``pretrained=`` interface maps to weights with torchvision's warnings (modelver's version)."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import pytest

from modelver import Weights, WeightsEnum, handle_legacy_interface
from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights, efficientnet_lite0
from modelver.transforms import ImageClassification

SINCE = "since modelver 0.1.0"  # fixed: the deprecation does not move with releases


class Composite_Weights(WeightsEnum):
    V1 = Weights(url="/x/c.pth", transforms=ImageClassification, meta={})
    DEFAULT = V1


class Backbone_Weights(WeightsEnum):
    B1 = Weights(url="/x/b.pth", transforms=ImageClassification, meta={})
    DEFAULT = B1


@handle_legacy_interface(
    weights=("pretrained", Composite_Weights.V1),
    weights_backbone=("pretrained_backbone", lambda kwargs: Backbone_Weights.B1),
)
def composite(
    *,
    weights: Optional[Composite_Weights] = None,
    weights_backbone: Optional[Backbone_Weights] = None,
    progress: bool = True,
    **kwargs: Any,
) -> tuple[Any, Any, dict[str, Any]]:
    return weights, weights_backbone, kwargs


def _messages(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record]


def test_pretrained_true_maps_to_the_old_default_with_both_warnings() -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        weights, backbone, _ = composite(pretrained=True)
    assert weights is Composite_Weights.V1 and backbone is None
    assert _messages(record) == [
        (f"The parameter 'pretrained' is deprecated {SINCE} and may be removed in the future, "
        "please use 'weights' instead."),
        (f"Arguments other than a weight enum or `None` for 'weights' are deprecated {SINCE} and may be removed "
        "in the future. The current behavior is equivalent to passing `weights=Composite_Weights.V1`. "
        "You can also use `weights=Composite_Weights.DEFAULT` to get the most up-to-date weights."),
    ]


def test_pretrained_false_maps_to_none() -> None:
    with pytest.warns(UserWarning, match="equivalent to passing `weights=None`"):
        weights, _, _ = composite(pretrained=False)
    assert weights is None


def test_pretrained_backbone_maps_through_its_callable() -> None:
    with pytest.warns(UserWarning, match="'pretrained_backbone' is deprecated"):
        weights, backbone, _ = composite(pretrained_backbone=True)
    assert weights is None and backbone is Backbone_Weights.B1


def test_positional_arguments_still_work_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        weights, _, _ = composite(True)
    messages = _messages(record)
    assert messages[0] == (
        f"Using 'weights' as positional parameter(s) is deprecated {SINCE} and may be removed in the future. "
        "Please use keyword parameter(s) instead."
    )
    assert weights is Composite_Weights.V1
    # As torchvision: the user never typed `pretrained`, so no warning names it; the second says what it meant.
    assert len(messages) == 2 and not any("'pretrained'" in m for m in messages)
    assert messages[1].startswith("Arguments other than a weight enum or `None` for 'weights' are deprecated")
    assert "equivalent to passing `weights=Composite_Weights.V1`" in messages[1]


def test_new_style_arguments_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert composite(weights=Composite_Weights.V1)[0] is Composite_Weights.V1
        assert composite(weights="DEFAULT")[0] == "DEFAULT"  # verified by the builder itself
        assert composite()[0] is None


def test_real_builder_pretrained_true_loads_the_embedded_weights() -> None:
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        model = efficientnet_lite0(pretrained=True)
    reference = efficientnet_lite0(weights=EfficientNet_Lite0_Weights.IMAGENET1K_V1)
    assert all(
        a.equal(b) for a, b in zip(model.state_dict().values(), reference.state_dict().values())
    )


def test_num_classes_must_agree_with_the_categories() -> None:
    with pytest.raises(ValueError) as info:
        efficientnet_lite0(weights="DEFAULT", num_classes=10)
    assert str(info.value) == "The parameter 'num_classes' expected value 1000 but got 10 instead."
    assert efficientnet_lite0(num_classes=10).classifier.out_features == 10


def test_weights_entry_passed_positionally_to_a_real_builder_is_used() -> None:
    """The RFC's text demo calls ``models.roberta(weights)``: the entry is used, with one warning."""
    import torch

    from modelver.models.text import RoBERTa_Base_Weights, roberta_base
    from modelver.testing import structure_only

    with warnings.catch_warnings(record=True) as record, structure_only():
        warnings.simplefilter("always")
        model = roberta_base(RoBERTa_Base_Weights.MLM_ENGLISH_V1)
    assert _messages(record) == [
        (
            f"Using 'weights' as positional parameter(s) is deprecated {SINCE} and may be removed in the future. "
            "Please use keyword parameter(s) instead."
        )
    ]
    # Built for that entry (its meta sets the architecture); without weights the parameters would be real tensors.
    assert sum(p.numel() for p in model.parameters()) == RoBERTa_Base_Weights.MLM_ENGLISH_V1.meta["num_params"]
    assert all(p.device == torch.device("meta") for p in model.parameters())
