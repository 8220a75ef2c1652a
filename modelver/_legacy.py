"""Backward compatibility for builders: ``pretrained=`` and positional arguments.

The behaviour (and the warning texts, with modelver's version) is torchvision's, so code
written for the old API keeps working and is told how to move on.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, TypeVar, Union

from ._weights import Weights, WeightsEnum, overwrite_named_param, overwrite_value_param  # re-exported: their old home
from .lockfile import _active as _lock

__all__ = ["SINCE", "handle_legacy_interface", "kwonly_to_pos_or_kw", "overwrite_named_param", "overwrite_value_param"]

F = TypeVar("F", bound=Callable[..., Any])
SINCE = "modelver 0.1.0"  # when these forms were deprecated; it does not move with each release
_DefaultWeights = Union[WeightsEnum, None, Callable[[dict[str, Any]], Union[WeightsEnum, None]]]


def _join_names(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def kwonly_to_pos_or_kw(fn: F) -> F:
    """Let keyword-only parameters still be passed positionally, with a deprecation warning."""
    params = inspect.signature(fn).parameters
    positional = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        extra = args[len(positional) :]
        if extra:
            moved = dict(zip(keyword_only, extra))
            warnings.warn(
                f"Using {_join_names(list(moved))} as positional parameter(s) is deprecated since "
                f"{SINCE} and may be removed in the future. Please use keyword parameter(s) instead.",
                UserWarning,
                stacklevel=2,
            )
            kwargs.update(moved)
            args = args[: len(positional)]
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def handle_legacy_interface(**weights: tuple[str, _DefaultWeights]) -> Callable[[F], F]:
    """Map the old boolean ``pretrained=`` style to ``weights=`` (torchvision's decorator).

    Each keyword names a weights parameter and gives ``(legacy_name, default)``: the old
    boolean parameter and the entry that ``True`` used to load (or a function of the
    other keyword arguments that returns it, for composite models). Also applies
    :func:`kwonly_to_pos_or_kw`.
    """

    def outer(builder: F) -> F:
        @kwonly_to_pos_or_kw
        @functools.wraps(builder)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for weights_param, (legacy_param, default) in weights.items():
                _map_legacy(builder, kwargs, weights_param, legacy_param, default)
            return builder(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return outer


_MISSING = object()


def _map_legacy(
    builder: Callable[..., Any],
    kwargs: dict[str, Any],
    weights_param: str,
    legacy_param: str,
    default: _DefaultWeights,
) -> None:
    value = kwargs.get(weights_param, _MISSING)
    if weights_param not in kwargs and legacy_param not in kwargs:
        return
    if value is None or isinstance(value, (WeightsEnum, Weights)) or (isinstance(value, str) and value != "legacy"):
        return
    # A boolean in the weights slot means it was passed positionally in the old signature.
    positional = value is not _MISSING
    if positional:
        # Under its legacy name, so a callable default sees it whichever way it was passed (torchvision's order).
        kwargs[legacy_param] = kwargs.pop(weights_param)
    legacy_value = kwargs[legacy_param]
    # As torchvision: resolve (and raise when there is nothing to load) before any warning, so
    # with warnings as errors the user still sees the ValueError.
    if legacy_value:
        chosen = default(kwargs) if callable(default) and not isinstance(default, WeightsEnum) else default
        chosen = _lock.instead_of_legacy(chosen)  # under a lock file: the pinned entry
        if not isinstance(chosen, WeightsEnum):
            raise ValueError(f"No weights available for model {builder.__name__}")
    else:
        chosen = None
    # A positional call never typed the legacy parameter's name: only keyword users are told about it.
    if not positional:
        warnings.warn(
            f"The parameter '{legacy_param}' is deprecated since {SINCE} and may be removed in the future, "
            f"please use '{weights_param}' instead.",
            UserWarning,
            stacklevel=4,
        )
    message = (
        f"Arguments other than a weight enum or `None` for '{weights_param}' are deprecated since {SINCE} "
        f"and may be removed in the future. The current behavior is equivalent to passing "
        f"`{weights_param}={chosen!r}`."
    )
    if chosen is not None:
        message += (
            f" You can also use `{weights_param}={type(chosen).__name__}.DEFAULT` to get the most "
            "up-to-date weights."
        )
    warnings.warn(message, UserWarning, stacklevel=4)
    del kwargs[legacy_param]
    kwargs[weights_param] = chosen
