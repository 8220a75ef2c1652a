"""ContextParams changes a class's constructor defaults only while active, per thread."""

from __future__ import annotations

import threading

import pytest
from torch import nn

from modelver import ContextParams


class Layer(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.channels, self.eps, self.momentum = channels, eps, momentum


def test_overrides_defaults_only_while_active() -> None:
    with ContextParams(Layer, True, eps=0.0):
        assert Layer(4).eps == 0.0
    assert Layer(4).eps == 1e-5


def test_inactive_changes_nothing() -> None:
    with ContextParams(Layer, False, eps=0.0):
        assert Layer(4).eps == 1e-5


def test_explicit_arguments_win() -> None:
    with ContextParams(Layer, True, eps=0.0):
        assert Layer(4, eps=0.5).eps == 0.5
        assert Layer(4, 0.25).eps == 0.25


def test_nesting_accumulates_and_unwinds() -> None:
    with ContextParams(Layer, True, eps=0.0):
        with ContextParams(Layer, True, momentum=0.5):
            layer = Layer(4)
            assert (layer.eps, layer.momentum) == (0.0, 0.5)
        with ContextParams(Layer, True, eps=0.1):
            assert Layer(4).eps == 0.1
        assert (Layer(4).eps, Layer(4).momentum) == (0.0, 0.1)
    assert Layer(4).eps == 1e-5


def test_decorator_form() -> None:
    @ContextParams(Layer, True, eps=0.0)
    def build() -> Layer:
        return Layer(2)

    assert build().eps == 0.0
    assert Layer(2).eps == 1e-5


def test_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), ContextParams(Layer, True, eps=0.0):
        raise RuntimeError("boom")
    assert Layer(4).eps == 1e-5


def test_other_threads_are_not_affected() -> None:
    seen: list[float] = []
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait()
        seen.append(Layer(1).eps)
        release.set()

    thread = threading.Thread(target=other)
    thread.start()
    with ContextParams(Layer, True, eps=0.0):
        inside.set()
        release.wait(10)
    thread.join()
    assert seen == [1e-5]


def test_works_on_torch_layers() -> None:
    with ContextParams(nn.BatchNorm2d, True, eps=1e-3):
        assert nn.BatchNorm2d(3).eps == 1e-3
    assert nn.BatchNorm2d(3).eps == 1e-5


def test_unknown_parameter_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="has no parameter\\(s\\) epsilon"):
        ContextParams(Layer, True, epsilon=0.0)
