"""Build a model and load weights into it without a wasted random initialisation."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["build_model", "load_weights"]

M = TypeVar("M", bound=nn.Module)


class SkipInitOnMeta(TorchFunctionMode):
    """Skip in-place value initialisers on meta tensors (they have no values to set).

    On the meta device ``normal_`` & co. run through torch's Python reference kernels, whose
    first use imports the compiler stack (about 2 s); skipping them makes a meta build cost
    what it should: nothing. Only ops that change values, never shapes, are skipped.
    """

    _VALUE_OPS = frozenset(
        [
            "normal_", "uniform_", "fill_", "zero_", "erfinv_", "mul_", "add_", "sub_", "div_", "clamp_",
            "clamp_min_", "clamp_max_", "copy_", "exponential_", "bernoulli_", "random_", "log_normal_",
            "cauchy_", "geometric_", "fill_diagonal_", "sqrt_", "abs_", "neg_", "exp_",
        ]
    )

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if (
            getattr(func, "__name__", "") in self._VALUE_OPS
            and args
            and isinstance(args[0], torch.Tensor)
            and args[0].is_meta
        ):
            return args[0]
        return func(*args, **(kwargs or {}))


def load_weights(
    model: nn.Module, weights: Any, progress: bool = True, *, assign: bool = False, device: Any = "cpu"
) -> None:
    """Load ``weights`` (an enum member or a ``Weights``) into ``model``, strictly.

    With ``assign=True`` the model's tensors *become* the loaded ones (for a model built
    on the ``meta`` device); they are cast to the dtype the model declared first, so the
    result equals a normal ``load_state_dict``. ``device`` is where the file is loaded to.
    """
    from .testing import STRUCTURE_ONLY, active_synthetic_seed, synthetic_state_dict

    seed = active_synthetic_seed()
    if seed == STRUCTURE_ONLY:
        return
    if seed is None:
        state_dict = weights.get_state_dict(progress=progress, map_location=device)
    else:
        state_dict = {k: v.to(device) for k, v in synthetic_state_dict(model, seed).items()}
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

    The weights go straight to the default device: ``with torch.device("cuda"):
    model = resnet50(weights=...)`` loads the file onto the GPU with no CPU copy of the
    model (safetensors reads to the device; zip checkpoints are memory-mapped first).
    """
    if weights is None:
        return factory()
    if not meta_init:
        model = factory()
        load_weights(model, weights, progress)
        return model
    device = torch.get_default_device()
    with torch.device("meta"), SkipInitOnMeta():
        model = factory()
    load_weights(model, weights, progress, assign=True, device=device)
    return model
