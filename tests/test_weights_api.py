"""Weights / WeightsEnum behave as torchvision's, plus modelver's additions."""

from __future__ import annotations

import copy
import pickle
from functools import partial

import pytest

from modelver import Weights, WeightsEnum
from modelver.errors import ModelverError, UnknownWeightsError
from modelver.transforms import ImageClassification


class Toy_Weights(WeightsEnum):
    V1 = Weights(url="https://example.com/toy-v1.pth", transforms=partial(ImageClassification, crop_size=8), meta={"x": 1})
    V2 = Weights(url="https://example.com/toy-v2.pth", transforms=partial(ImageClassification, crop_size=9), meta={"x": 2})
    DEFAULT = V2


class Other_Weights(WeightsEnum):
    A = Weights(url="https://example.com/a.pth", transforms=ImageClassification, meta={})


def test_default_is_an_alias_of_the_best_entry() -> None:
    assert Toy_Weights.DEFAULT is Toy_Weights.V2
    assert list(Toy_Weights) == [Toy_Weights.V1, Toy_Weights.V2]
    assert repr(Toy_Weights.DEFAULT) == "Toy_Weights.V2"


@pytest.mark.parametrize("given", ["DEFAULT", "V2", "Toy_Weights.V2", "Toy_Weights.DEFAULT", " V2 "])
def test_verify_accepts_names(given: str) -> None:
    assert Toy_Weights.verify(given) is Toy_Weights.V2


def test_verify_accepts_none_members_and_custom_weights() -> None:
    custom = Weights(url="/tmp/mine.pth", transforms=ImageClassification, meta={})
    assert Toy_Weights.verify(None) is None
    assert Toy_Weights.verify(Toy_Weights.V1) is Toy_Weights.V1
    assert Toy_Weights.verify(custom) is custom


def test_verify_rejects_a_member_of_another_enum_with_torchvision_message() -> None:
    with pytest.raises(TypeError) as info:
        Toy_Weights.verify(Other_Weights.A)
    assert str(info.value) == "Invalid Weight class provided; expected Toy_Weights but received Other_Weights."


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownWeightsError) as info:
        Toy_Weights.verify("V3")
    message = str(info.value)
    assert "'V3'" in message and "V1, V2, DEFAULT" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, ModelverError)


def test_name_of_another_enum_is_refused() -> None:
    with pytest.raises(UnknownWeightsError, match="names weights of 'Other_Weights'"):
        Toy_Weights.verify("Other_Weights.V1")


def test_close_name_gets_a_suggestion() -> None:
    with pytest.raises(UnknownWeightsError, match="Did you mean 'V1'"):
        Toy_Weights.verify("v1")


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy, lambda w: pickle.loads(pickle.dumps(w))])
def test_members_survive_copy_and_pickle_as_the_same_member(clone) -> None:  # type: ignore[no-untyped-def]
    assert clone(Toy_Weights.V1) is Toy_Weights.V1
    assert clone(Toy_Weights.DEFAULT) is Toy_Weights.V2


def test_weights_values_compare_partials_by_content() -> None:
    a = Weights(url="u", transforms=partial(ImageClassification, crop_size=8), meta={})
    b = Weights(url="u", transforms=partial(ImageClassification, crop_size=8), meta={})
    c = Weights(url="u", transforms=partial(ImageClassification, crop_size=9), meta={})
    assert a == b and a != c
    assert copy.deepcopy(a) == a


def test_properties_and_lazy_transforms() -> None:
    member = Toy_Weights.V1
    assert member.url == "https://example.com/toy-v1.pth"
    assert member.meta == {"x": 1, "preprocessing": ImageClassification.preprocessing_meta(crop_size=8)}
    assert member.sha256 == "" and member.mirrors == ()
    preset = member.transforms()
    assert isinstance(preset, ImageClassification) and preset.crop_size == 8
    assert member.transforms(crop_size=400, resize_size=400).resize_size == 400


def test_sha256_must_be_a_full_digest() -> None:
    with pytest.raises(ValueError, match="full 64-character hex digest"):
        Weights(url="u", transforms=ImageClassification, meta={}, sha256="11ad3fa6")


def test_deprecated_entry_warns_naming_the_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    class Old_Weights(WeightsEnum):
        OLD = Weights(url="/nonexistent/old.pth", transforms=ImageClassification, meta={"_deprecated": "use NEW"})

    with pytest.warns(FutureWarning, match=r"Old_Weights.OLD is deprecated: use NEW"), pytest.raises(FileNotFoundError):
        Old_Weights.OLD.get_state_dict()


def test_meta_preprocessing_is_derived_from_the_transforms() -> None:
    """One source: ``meta["preprocessing"]`` comes from the preset's parameters, defaults included."""
    entry = Weights(url="/nonexistent.pth", transforms=partial(ImageClassification, crop_size=100), meta={"task": "x"})
    preset = entry.transforms()
    assert entry.meta["preprocessing"] == {
        "resize_size": preset.resize_size,  # the default the partial relies on: 256
        "crop_size": 100,
        "interpolation": "bilinear",
        "antialias": True,
        "mean": preset.mean,
        "std": preset.std,
    }
    with pytest.raises(ValueError, match=r"meta\['preprocessing'\] .* disagrees with its transforms"):
        Weights(
            url="/nonexistent.pth",
            transforms=partial(ImageClassification, crop_size=224),
            meta={"preprocessing": {"resize_size": 232, "crop_size": 224}},  # a hand copy that drifted
        )
