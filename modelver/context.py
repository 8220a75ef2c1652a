"""``ContextParams``: change a layer class's constructor defaults for a while.

The RFC's answer to BC-breaking default changes: new training gets the new default, old
weights are built with the old one::

    with ContextParams(FrozenBatchNorm2d, weights is COCO_V1, eps=0.0):
        model = FasterRCNN(...)

Only arguments the caller does not pass are changed; nesting accumulates (inner wins);
the overrides are per thread / asyncio task (a ``contextvars.ContextVar``), so another
thread building a model at the same time is not affected.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from types import MappingProxyType
from typing import Any, Callable, Mapping, TypeVar

__all__ = ["ContextParams"]

F = TypeVar("F", bound=Callable[..., Any])

_OVERRIDES: contextvars.ContextVar[Mapping[type, Mapping[str, Any]]] = contextvars.ContextVar(
    "modelver_context_params", default=MappingProxyType({})
)
_PATCHED: dict[type, Callable[..., None]] = {}
_PATCH_LOCK = threading.Lock()


def _install(target: type) -> None:
    """Wrap ``target.__init__`` once so that it reads the active overrides."""
    with _PATCH_LOCK:
        if target in _PATCHED:
            return
        original = target.__dict__.get("__init__", target.__init__)
        signature = inspect.signature(original)

        @functools.wraps(original)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            active = _OVERRIDES.get().get(target)
            if active:
                bound = signature.bind_partial(self, *args, **kwargs).arguments
                for name, value in active.items():
                    if name not in bound:
                        kwargs[name] = value
            original(self, *args, **kwargs)

        _PATCHED[target] = original
        target.__init__ = __init__  # type: ignore[misc]


class ContextParams:
    """Override constructor defaults of ``target_class`` while active.

    Args:
        target_class: the layer class, e.g. ``torchvision.ops.FrozenBatchNorm2d``.
        active: apply the overrides only if true (``weights == X_Weights.OLD``), so one
            line handles both the old-weights and the new-training case.
        **params: the defaults to use, e.g. ``eps=0.0``. Each must be a parameter of
            ``target_class.__init__``.

    Usable as a context manager and as a decorator.
    """

    def __init__(self, target_class: type, active: bool = True, **params: Any) -> None:
        if not isinstance(target_class, type):
            raise TypeError(f"ContextParams needs a class, got {target_class!r}.")
        accepted = inspect.signature(target_class.__init__).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        unknown = [name for name in params if name not in accepted and not takes_kwargs]
        if unknown:
            raise TypeError(
                f"ContextParams: {target_class.__name__}.__init__ has no parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(n for n in accepted if n != 'self')}."
            )
        self.target_class = target_class
        self.active = bool(active)
        self.params = dict(params)
        self._tokens: list[contextvars.Token[Mapping[type, Mapping[str, Any]]]] = []

    def __enter__(self) -> ContextParams:  # noqa: PYI034 - typing.Self needs Python 3.11; modelver runs on 3.10
        current = _OVERRIDES.get()
        if self.active and self.params:
            _install(self.target_class)
            merged = dict(current)
            merged[self.target_class] = MappingProxyType({**current.get(self.target_class, {}), **self.params})
            current = MappingProxyType(merged)
        self._tokens.append(_OVERRIDES.set(current))
        return self

    def __exit__(self, *exc: object) -> None:
        _OVERRIDES.reset(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"ContextParams({self.target_class.__name__}, active={self.active}, {params})"
