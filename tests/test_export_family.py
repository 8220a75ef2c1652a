"""Parity in seconds for a new builder of a family that is already exported.

A family is a task and a model class with a builder whose bundles have a full parity test in
every format (``resnet50`` in ``test_export_zoo.py``: torchvision's ``ResNet``). A new builder of
the family, another depth say, gets:

- its TorchScript bundle exported and checked against eager (torch's scripting and freezing
  of *this* module; seconds, with synthetic weights);
- every operation of its graph (``torch.fx``: module types, functions, methods) already in
  the family's tested builder: the ONNX and ``.pt2`` exporters were checked on all of them, so
  its ONNX, Triton and ``.pt2`` bundles count as tested (``test_export_coverage.py`` reads
  :data:`FAMILIES` through ``family_cases``).

Add a builder to :data:`FAMILIES` with the tested builder of its family.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest
import torch
from export_helpers import family_cases
from modelver_export import export_model
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from modelver import _registry, get_model_builder, get_model_weights
from modelver.models.resnet import ResNet50_Weights
from modelver.testing import structure_only, synthetic_weights

#: new builder → the fully parity-tested builder of its family
FAMILIES: dict[str, str] = {}
CASES = family_cases(FAMILIES) or [
    pytest.param("", "", marks=pytest.mark.skip(reason="no builder is in FAMILIES yet; the mechanism is tested below"))
]


def operations(model: nn.Module) -> set[str]:
    """What the exporters have to convert: leaf module types, functions and tensor methods of the traced graph."""
    graph = torch.fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    ops = set()
    for node in graph.nodes:
        if node.op == "call_module":
            ops.add(f"module {type(modules[node.target]).__name__}")
        elif node.op == "call_function":
            ops.add(f"function {getattr(node.target, '__name__', str(node.target))}")
        elif node.op == "call_method":
            ops.add(f"method {node.target}")
    return ops


def check_family_member(name: str, tested: str, tmp_path: Any) -> None:
    weights = get_model_weights(get_model_builder(name)).DEFAULT
    family = get_model_weights(get_model_builder(tested)).DEFAULT
    with structure_only():
        model = get_model_builder(name)(weights=weights, progress=False).eval()
        reference = get_model_builder(tested)(weights=family, progress=False).eval()
    assert weights.meta["task"] == family.meta["task"], (name, tested)
    assert type(model) is type(reference), f"{name} is a {type(model).__name__}, {tested} a {type(reference).__name__}"
    untested = operations(model) - operations(reference)
    assert not untested, f"{name} uses {sorted(untested)}, which no parity test of {tested} exported"
    with synthetic_weights(seed=3):
        model = get_model_builder(name)(weights=weights, progress=False).eval()
    (result,) = export_model(name, weights=weights, formats="torchscript", out=tmp_path, model=model, progress=None)
    assert result.parity["passed"] and len(result.parity["cases"]) == 4


@pytest.mark.parametrize(("name", "tested"), CASES)
def test_family_member_parity(name: str, tested: str, tmp_path: Any) -> None:
    check_family_member(name, tested, tmp_path)


# --- the mechanism on builders registered here: a ResNet-26 passes, one with SiLU activations does not ---------
def resnet26_test(*, weights: Optional[ResNet50_Weights] = None, progress: bool = True) -> nn.Module:
    torch.manual_seed(0)
    return ResNet(Bottleneck, [2, 2, 2, 2])


def resnet26_silu_test(*, weights: Optional[ResNet50_Weights] = None, progress: bool = True) -> nn.Module:
    model = resnet26_test(weights=weights)
    for module in model.modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, child_name, nn.SiLU())
    return model


@pytest.fixture
def registered(registry_snapshot: None) -> Iterator[None]:
    _registry.register_model()(resnet26_test)
    _registry.register_model()(resnet26_silu_test)
    yield


def test_a_new_depth_of_resnet_is_checked_in_seconds(registered: None, tmp_path: Any) -> None:
    check_family_member("resnet26_test", "resnet50", tmp_path)


def test_an_operation_the_family_never_exported_is_caught(registered: None, tmp_path: Any) -> None:
    with pytest.raises(AssertionError, match=r"resnet26_silu_test uses \['module SiLU'\]"):
        check_family_member("resnet26_silu_test", "resnet50", tmp_path)
    assert not list(tmp_path.iterdir())  # refused before any export
