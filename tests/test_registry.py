"""Registry: names, listing, lookup errors, re-registration, laziness and the manifest."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any, Optional

import pytest
from conftest import subprocess_env

import modelver
from modelver import (
    Weights,
    WeightsEnum,
    _manifest_build,
    _registry,
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
)
from modelver.errors import UnknownModelError, UnknownWeightsError
from modelver.transforms import ImageClassification


class Tiny_Weights(WeightsEnum):
    ONLY = Weights(url="/nonexistent/tiny.pth", transforms=ImageClassification, meta={"categories": ["a", "b"]})
    DEFAULT = ONLY




def _make_builder(name: str = "tiny_model") -> Any:
    def tiny_model(*, weights: Optional[Tiny_Weights] = None, progress: bool = True, **kwargs: Any) -> Any:
        return ("built", Tiny_Weights.verify(weights), kwargs)

    tiny_model.__name__ = tiny_model.__qualname__ = name
    return tiny_model


def test_builtin_models_are_listed() -> None:
    assert "efficientnet_lite0" in list_models()
    assert list_models() == sorted(list_models())


def test_include_exclude_patterns(registry_snapshot: Any) -> None:
    for name in ("toy_a1", "toy_a2", "toy_b1"):
        _registry.register_model()(_make_builder(name))
    assert list_models(include="toy_*") == ["toy_a1", "toy_a2", "toy_b1"]
    assert list_models(include=["toy_a*", "toy_b*"], exclude="*2") == ["toy_a1", "toy_b1"]
    assert list_models(include="toy_*", exclude=("toy_a*",)) == ["toy_b1"]
    assert list_models(include="no_such_*") == []


def test_module_filter_is_torchvisions_parent_package_rule() -> None:
    assert "efficientnet_lite0" in list_models(module="modelver.models")
    assert "efficientnet_lite0" in list_models(module=modelver.models)
    assert list_models(module="modelver.models.detection") == [
        n for n in list_models() if _registry._all_models()[n].startswith("modelver.models.detection.")
    ]


def test_get_model_builder_is_case_insensitive_and_get_model_builds() -> None:
    assert get_model_builder("EfficientNet_Lite0") is get_model_builder("efficientnet_lite0")
    model = get_model("efficientnet_lite0", num_classes=10)
    assert model.classifier.out_features == 10


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match=r"Unknown model 'efficientnet_lite'.*Did you mean: efficientnet_lite0"):
        get_model_builder("efficientnet_lite")
    with pytest.raises(ValueError):  # torchvision raises ValueError: keep catching code working
        get_model("definitely_not_a_model")


def test_duplicate_name_is_an_error(registry_snapshot: Any) -> None:
    _registry.register_model("dup_model")(_make_builder("first"))
    with pytest.raises(ValueError, match="already registered under the name 'dup_model'"):
        _registry.register_model("dup_model")(_make_builder("second"))
    with pytest.raises(ValueError, match="already registered under the name 'efficientnet_lite0'"):
        _registry.register_model("efficientnet_lite0")(_make_builder("impostor"))


def test_registering_the_same_function_again_is_tolerated(registry_snapshot: Any) -> None:
    """A module imported twice (torch.hub re-imports hubconf) registers its builders again."""
    first = _make_builder("again")
    _registry.register_model()(first)
    second = _make_builder("again")  # same module and qualname: a re-import
    assert _registry.register_model()(second) is second
    assert get_model_builder("again") is second


def test_get_model_weights_from_name_and_function(registry_snapshot: Any) -> None:
    builder = _registry.register_model()(_make_builder("with_enum"))
    assert get_model_weights("with_enum") is Tiny_Weights
    assert get_model_weights(builder) is Tiny_Weights
    assert get_weight("Tiny_Weights.DEFAULT") is Tiny_Weights.ONLY
    assert get_model("with_enum", weights="ONLY")[1] is Tiny_Weights.ONLY


def test_get_weight_for_builtin_enum() -> None:
    from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights

    assert get_weight("EfficientNet_Lite0_Weights.DEFAULT") is EfficientNet_Lite0_Weights.IMAGENET1K_V1
    assert get_weight("EfficientNet_Lite0_Weights.IMAGENET1K_V1") is EfficientNet_Lite0_Weights.IMAGENET1K_V1


@pytest.mark.parametrize(
    "name, message",
    [
        ("EfficientNet_Lite0_Weights", "Invalid weight name provided"),
        ("a.b.c", "Invalid weight name provided"),
        ("Nope_Weights.DEFAULT", "couldn't be retrieved"),
        ("EfficientNet_Lite0_Weights.NOPE", "Valid names: IMAGENET1K_V1, DEFAULT"),
    ],
)
def test_get_weight_errors_say_what_is_valid(name: str, message: str) -> None:
    with pytest.raises(UnknownWeightsError, match=message):
        get_weight(name)


def test_builder_without_weights_enum_is_reported(registry_snapshot: Any) -> None:
    def plain(**kwargs: Any) -> None:
        return None

    _registry.register_model("plain_model")(plain)
    with pytest.raises(UnknownWeightsError, match="has no weights enum"):
        get_model_weights("plain_model")


def test_manifest_is_current() -> None:
    """`make manifest` regenerates it; this fails when a model was added without it."""
    assert _manifest_build.MANIFEST.read_text() == _manifest_build.render(*_manifest_build.collect())


def test_model_not_in_manifest_is_found_by_discovery(monkeypatch: pytest.MonkeyPatch, registry_snapshot: Any) -> None:
    """A stale manifest costs time, not correctness: unknown names import every model module."""
    from modelver.models import _manifest

    monkeypatch.setattr(_manifest, "MODELS", {})
    _registry._BUILDERS.pop("efficientnet_lite0", None)
    monkeypatch.delitem(sys.modules, "modelver.models.efficientnet_lite")
    assert get_model_builder("efficientnet_lite0").__name__ == "efficientnet_lite0"


LAZY_CHECK = """
import sys, modelver
names = modelver.list_models()
assert 'efficientnet_lite0' in names, names
assert 'torch' not in sys.modules, 'list_models imported torch'
w = modelver.get_weight('EfficientNet_Lite0_Weights.DEFAULT')
info = modelver.get_model_weights('efficientnet_lite0')
heavy = [m for m in ('torchvision', 'torchaudio', 'huggingface_hub', 'onnx', 'onnxruntime') if m in sys.modules]
assert not heavy, heavy
print('ok')
"""


def test_listing_and_get_weight_import_nothing_heavy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAZY_CHECK], capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_everything_public_is_importable_from_modelver() -> None:
    for name in modelver.__all__:
        assert getattr(modelver, name) is not None, name
    assert isinstance(modelver.errors, types.ModuleType)
