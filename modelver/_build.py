"""Build a model and load weights into it without a wasted random initialisation."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import torch
from torch import nn

__all__ = ["build_model", "load_weights"]

M = TypeVar("M", bound=nn.Module)


def load_weights(model: nn.Module, weights: Any, progress: bool = True, *, assign: bool = False) -> None:
    """Load ``weights`` (an enum member or a ``Weights``) into ``model``, strictly.

    With ``assign=True`` the model's tensors *become* the loaded ones (for a model built
    on the ``meta`` device); they are cast to the dtype the model declared first, so the
    result equals a normal ``load_state_dict``.
    """
    state_dict = weights.get_state_dict(progress=progress)
    if assign:
        expected = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        for key, tensor in state_dict.items():
            target = expected.get(key)
            if target is not None and isinstance(tensor, torch.Tensor) and tensor.dtype != target.dtype:
                state_dict[key] = tensor.to(target.dtype)
    model.load_state_dict(state_dict, strict=True, assign=assign)
    if assign:
        left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
        if left:
            raise RuntimeError(
                f"{type(model).__name__}: {', '.join(left[:5])} were not in the checkpoint and are still on "
                "the meta device. Build this model with meta_init=False."
            )


def build_model(factory: Callable[[], M], weights: Any, progress: bool = True, *, meta_init: bool = True) -> M:
    """``factory()`` with ``weights`` loaded (or as is when ``weights`` is None).

    With ``meta_init`` (the default) the model is constructed on the ``meta`` device, so
    no time goes into initialising parameters that the checkpoint replaces. Models that
    create plain tensors in ``__init__`` (not parameters or buffers) need ``meta_init=False``.
    """
    if weights is None:
        return factory()
    if meta_init:
        with torch.device("meta"):
            model = factory()
    else:
        model = factory()
    load_weights(model, weights, progress, assign=meta_init)
    return model
