"""Parity with torchvision itself for each behaviour that was found to differ (issue 13).

Companion of tests/test_torchvision_api.py (torchvision's own tests, ported): here the
installed torchvision is the reference, side by side with modelver.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
import warnings

import pytest
import torch
import torchvision
from conftest import subprocess_env
from torchvision.models._utils import handle_legacy_interface as tv_handle_legacy_interface

import modelver
from modelver import Weights, WeightsEnum, get_model_weights, handle_legacy_interface, models

SINCE = "modelver 0.1.0"  # torchvision's warnings say "since 0.13"; ours, the release that deprecated them


# Parity: each behaviour found to differ (issue 13), checked against torchvision itself.


class _TvWeights(torchvision.models.WeightsEnum):
    Sentinel = torchvision.models.Weights(url="https://pytorch.org", transforms=lambda x: x, meta={})


class _MvWeights(WeightsEnum):
    Sentinel = Weights(url="https://pytorch.org", transforms=lambda x: x, meta={})


def _legacy_warnings(decorator: typing.Callable, enum: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> list:
    @decorator(weights=("pretrained", enum.Sentinel))
    def builder(*, weights=None):  # type: ignore[no-untyped-def]
        return weights

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chosen = builder(*args, **kwargs)
    texts = [str(w.message).replace("0.13", SINCE).replace(enum.__name__, "X") for w in record]
    return [chosen is not None, [w.category for w in record], texts]


@pytest.mark.parametrize("args, kwargs", [((True,), {}), ((False,), {}), ((), {"pretrained": True}), ((), {"pretrained": False})])
def test_legacy_warnings_are_torchvisions(args: tuple, kwargs: dict) -> None:
    """Same warnings, same order, same text (but the version) for positional and keyword ``pretrained``."""
    ours = _legacy_warnings(handle_legacy_interface, _MvWeights, *args, **kwargs)
    theirs = _legacy_warnings(tv_handle_legacy_interface, _TvWeights, *args, **kwargs)
    assert ours == theirs
    if args:  # positional: the user never typed 'pretrained', so no warning names that parameter
        assert not any("The parameter 'pretrained'" in text for text in ours[2])
        assert any("equivalent to passing `weights=" in text for text in ours[2])


def _error_under_werror(decorator: typing.Callable, *args: typing.Any, **kwargs: typing.Any) -> tuple[type, str]:
    @decorator(weights=("pretrained", None))
    def builder(*, weights=None):  # type: ignore[no-untyped-def]
        return weights

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as a user running with -W error
        with pytest.raises((ValueError, UserWarning)) as caught:
            builder(*args, **kwargs)
    return caught.type, str(caught.value).replace("0.13", SINCE)


@pytest.mark.parametrize("args, kwargs", [((), {"pretrained": True}), ((True,), {})], ids=["keyword", "positional"])
def test_legacy_default_without_weights_raises_before_warning(args: tuple, kwargs: dict) -> None:
    ours = _error_under_werror(handle_legacy_interface, *args, **kwargs)
    assert ours == _error_under_werror(tv_handle_legacy_interface, *args, **kwargs)
    if kwargs:  # the ValueError, not the deprecation warning that used to come first
        assert ours == (ValueError, "No weights available for model builder")
    else:  # both first warn that a keyword-only parameter was passed positionally (kwonly_to_pos_or_kw)
        assert ours[0] is UserWarning and "as positional parameter(s) is deprecated" in ours[1]


def test_every_builder_has_an_enum_like_torchvisions() -> None:
    for fn in [torchvision.models.get_model_builder(n) for n in torchvision.models.list_models()]:
        assert issubclass(torchvision.models.get_model_weights(fn), torchvision.models.WeightsEnum)
    classifier = modelver.get_model_weights("minilm_l6_classifier")
    assert issubclass(classifier, WeightsEnum) and len(classifier) == 0
    assert classifier is models.text.MiniLM_L6_Classifier_Weights


@pytest.mark.parametrize("empty", ["", [], (), {}, None])
def test_empty_include_filter_is_no_filter(empty: typing.Any) -> None:
    assert torchvision.models.list_models(include=empty) == torchvision.models.list_models()
    assert modelver.list_models(include=empty) == modelver.list_models()
    assert modelver.list_models(exclude=empty) == modelver.list_models()


SUBPACKAGES_ARE_ATTRIBUTES = """
import sys
import {pkg}.models
for name in ("detection",) + {extra}:
    assert getattr({pkg}.models, name).__name__ == "{pkg}.models." + name
print("ok")
"""


@pytest.mark.parametrize("pkg, extra", [("torchvision", ()), ("modelver", ("text", "audio"))])
def test_subpackages_are_attributes_after_import(pkg: str, extra: tuple) -> None:
    # A fresh interpreter: in this one, other tests have imported the subpackages already.
    code = SUBPACKAGES_ARE_ATTRIBUTES.format(pkg=pkg, extra=extra)
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_subpackages_export_what_list_models_names() -> None:
    for package in (models.detection, models.text, models.audio):
        for name in modelver.list_models(package):
            assert getattr(package, name) is modelver.get_model_builder(name)
            enum = modelver.get_model_weights(name)
            assert getattr(package, enum.__name__) is enum
    from modelver.models.audio import tts_tacotron2_wavernn  # noqa: F401 - the failing import of issue 13
    from modelver.models.text import minilm_l6  # noqa: F401


@pytest.mark.parametrize("name", modelver.list_models())
def test_run_time_type_hints_resolve(name: str) -> None:
    builder = modelver.get_model_builder(name)
    hints = typing.get_type_hints(builder)
    signature = inspect.signature(builder, eval_str=True)
    assert signature.return_annotation is hints["return"] and isinstance(hints["return"], type)
    assert issubclass(hints["return"], torch.nn.Module)
    assert get_model_weights(builder) in typing.get_args(hints["weights"])


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16", "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2"])
def test_same_return_type_and_meta_as_torchvision(name: str) -> None:
    """Where modelver serves torchvision's own files: the same class and the same meta (prose aside)."""
    ours, theirs = modelver.get_model_builder(name), torchvision.models.get_model_builder(name)
    assert typing.get_type_hints(ours)["return"] is typing.get_type_hints(theirs)["return"]
    tv_enum = torchvision.models.get_model_weights(name)
    mv_enum = modelver.get_model_weights(name)
    assert list(mv_enum.__members__) == list(tv_enum.__members__)
    for member_name, tv_entry in tv_enum.__members__.items():
        mv_entry = mv_enum.__members__[member_name]
        assert mv_entry.url == tv_entry.url
        for key, value in tv_entry.meta.items():
            if key != "_docs":  # the same facts; modelver words its notes for its docs page
                assert mv_entry.meta[key] == value, (member_name, key)


def test_metrics_under_torchvisions_key_and_old_key_still_readable() -> None:
    entry = models.ResNet50_Weights.IMAGENET1K_V2
    # The line code written for torchvision runs unchanged:
    assert entry.meta["_metrics"]["ImageNet-1K"]["acc@1"] == torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert "metrics" not in entry.meta
    with pytest.warns(DeprecationWarning, match=r"meta\['metrics'\] is deprecated.*meta\['_metrics'\]"):
        assert entry.meta["metrics"] is entry.meta["_metrics"]
    with pytest.warns(DeprecationWarning, match="deprecated"):
        assert entry.meta.get("metrics") is entry.meta["_metrics"]
    with pytest.warns(DeprecationWarning, match=r"Setting meta\['metrics'\]"):
        custom = Weights(url="/x.pth", transforms=None, meta={"metrics": {"Set": {"acc@1": 1.0}}})
    assert custom.meta == {"_metrics": {"Set": {"acc@1": 1.0}}}
    with pytest.raises(ValueError, match="both 'metrics' and '_metrics'"):
        Weights(url="/x.pth", transforms=None, meta={"metrics": {}, "_metrics": {}})
    with pytest.raises(KeyError):
        models.text.MiniLM_L6_Weights.DEFAULT.meta["metrics"]  # no metrics at all: still a KeyError


def test_tts_entries_have_a_recipe() -> None:
    for entry in modelver.get_model_weights("tts_tacotron2_wavernn"):
        acoustic = modelver.get_weight(entry.meta["acoustic_weights"])
        assert entry.meta["recipe"] == acoustic.meta["recipe"] and entry.meta["recipe"].startswith("https://")
