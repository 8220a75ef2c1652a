"""Helpers for testing models without downloads: deterministic synthetic weights.

Used by modelver's own tests and fingerprints, and useful for yours: a registered model
can be exercised end to end (build with weights, export, compare) with a checkpoint that
has the right keys, shapes and sane statistics but costs no download.
"""

from __future__ import annotations

import contextlib
import contextvars
import zlib
from typing import Any, Iterator

import torch
from torch import nn

__all__ = ["active_synthetic_seed", "structure_only", "synthetic_state_dict", "synthetic_weights"]

_SEED: contextvars.ContextVar[int | None] = contextvars.ContextVar("modelver_synthetic_seed", default=None)


def _tensor_for(key: str, like: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    if not like.is_floating_point():
        return like.detach().clone() if not like.is_meta else torch.zeros(like.shape, dtype=like.dtype)
    shape, dtype = like.shape, like.dtype
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "running_var":
        return torch.rand(shape, generator=g).add_(0.5).to(dtype)
    if leaf == "running_mean":
        return torch.randn(shape, generator=g).mul_(0.1).to(dtype)
    if len(shape) >= 2:
        fan_in = max(1, like[0].numel())
        return torch.randn(shape, generator=g).mul_(fan_in**-0.5).to(dtype)
    if leaf == "weight":  # norm scales
        return torch.rand(shape, generator=g).mul_(0.5).add_(0.75).to(dtype)
    return torch.randn(shape, generator=g).mul_(0.02).to(dtype)


def synthetic_state_dict(model: nn.Module, seed: int = 0) -> dict[str, Any]:
    """A state_dict for ``model`` with seeded values: each tensor depends only on (seed, key).

    Weights are scaled by fan-in, norm scales near 1, running variances positive, integer
    buffers copied, so activations stay finite through deep networks. As in trained
    networks, one channel in eight of each batch norm is nearly dead (running variance 1e-6,
    scale 1e-3): outputs then depend on the norm's ``eps``, so a changed eps shows.
    """
    state = {key: _tensor_for(key, value, seed) for key, value in model.state_dict().items()}
    for key in [k for k in state if k.endswith("running_var")]:
        scale_key = key[: -len("running_var")] + "weight"
        var, scale = state[key], state.get(scale_key)
        if scale is None or scale.shape != var.shape or not var.is_floating_point():
            continue
        var[::8] = 1e-6
        scale[::8] = scale[::8] * 1e-3
    return state


@contextlib.contextmanager
def synthetic_weights(seed: int = 0) -> Iterator[None]:
    """While active, builders given weights load :func:`synthetic_state_dict` instead of the file.

    Everything else about the entry applies (meta-driven arguments, ``ContextParams``,
    transforms), so ``resnet50(weights=ResNet50_Weights.IMAGENET1K_V2)`` builds exactly the
    model the real file would go into, with deterministic values and no download::

        with synthetic_weights(seed=0):
            model = get_model("resnet50", weights="DEFAULT")
    """
    token = _SEED.set(seed)
    try:
        yield
    finally:
        _SEED.reset(token)


STRUCTURE_ONLY = -1


@contextlib.contextmanager
def structure_only() -> Iterator[None]:
    """While active, builders given weights skip loading: the model stays on the meta device.

    The cheapest way to inspect what an entry builds (parameter count, output sizes, FLOPs
    with ``torch.utils.flop_counter``) without allocating or fetching anything.
    """
    token = _SEED.set(STRUCTURE_ONLY)
    try:
        yield
    finally:
        _SEED.reset(token)


def active_synthetic_seed() -> int | None:
    """The seed of the enclosing :func:`synthetic_weights` (``STRUCTURE_ONLY`` inside
    :func:`structure_only`), or None outside both."""
    return _SEED.get()
