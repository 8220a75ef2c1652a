"""``Weights`` (one released file and what it means) and ``WeightsEnum`` (all of a builder's).

The design is torchvision's multi-weight API: a builder takes ``weights=`` one member of
its enum; the member carries the file's location, the preprocessing constructor and the
meta (categories, ``_metrics``, recipe, ...: torchvision's keys). On top of torchvision's: a full ``sha256``,
ordered ``mirrors``, and a ``state_dict_adapter`` for checkpoints made by another codebase.
"""

from __future__ import annotations

import dataclasses
import difflib
import warnings
from enum import Enum
from functools import partial
from typing import Any, Callable, Mapping

from .errors import UnknownWeightsError
from .lockfile import _active as _lock

__all__ = ["Weights", "WeightsEnum", "WeightsMeta", "overwrite_named_param", "overwrite_value_param"]


@dataclasses.dataclass(eq=False)
class Weights:
    """One pre-trained weights file and everything needed to use it.

    Args:
        url: where the file is: ``https://...``, ``hf://org/repo@revision/file``,
            ``pkg://distribution/path/in/package``, ``file://...`` or a local path.
        transforms: a constructor (usually a ``functools.partial``) of the preprocessing
            the weights were evaluated with; called lazily, by ``weights.transforms()``.
        meta: facts about the weights, with torchvision's keys (categories, ``_metrics``,
            num_params, recipe, license...). The pre-0.2 key ``metrics`` is still accepted
            and readable, with a ``DeprecationWarning``.
        sha256: the file's full hex digest; empty only for third-party files whose
            digest is unknown.
        mirrors: other locations of the same file, tried in order after ``url``.
        state_dict_adapter: converts the checkpoint's keys to the builder's module names.
        check_hash: the file name carries a prefix of its sha256 after its last ``-``
            (torch.hub's ``resnet50-11ad3fa6.pth`` convention, ``check_hash=True``): check
            it when ``sha256`` is empty. Off by default: in ``ckpt-500000.pth`` or
            ``model-20240101.pt`` the digits are a step count or a date.
    """

    url: str
    transforms: Callable[..., Any]
    meta: dict[str, Any]
    sha256: str = ""
    mirrors: tuple[str, ...] = ()
    state_dict_adapter: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    check_hash: bool = False

    def __post_init__(self) -> None:
        self.meta = WeightsMeta.of(self.meta)
        self.mirrors = tuple(self.mirrors)
        if self.sha256 and (len(self.sha256) != 64 or not _is_hex(self.sha256)):
            raise ValueError(
                f"Weights for {self.url!r}: sha256 must be the full 64-character hex digest, "
                f"got {self.sha256!r}. Compute it with `sha256sum FILE`, or leave it empty."
            )
        self.sha256 = self.sha256.lower()
        derived = _preprocessing_of(self.transforms)
        if derived is not None:  # one source: the transforms; meta["preprocessing"] is derived from them
            given = self.meta.get("preprocessing")
            if given is not None and any(_plain(v) != _plain(derived.get(k)) for k, v in given.items()):
                raise ValueError(
                    f"Weights for {self.url!r}: meta['preprocessing'] {given} disagrees with its transforms "
                    f"({derived}); drop it from the meta, it is derived from the transforms."
                )
            self.meta["preprocessing"] = derived  # on WeightsMeta.of's copy: the caller's dict stays as it was

    def __eq__(self, other: object) -> bool:
        # Enum lookups (copy, pickle, aliasing of DEFAULT) compare values. A partial is
        # only equal to itself, so compare partials by what they would call.
        if not isinstance(other, Weights):
            return NotImplemented
        return (
            self.url == other.url
            and self.meta == other.meta
            and self.sha256 == other.sha256
            and self.mirrors == other.mirrors
            and self.state_dict_adapter == other.state_dict_adapter
            and self.check_hash == other.check_hash
            and _same_callable(self.transforms, other.transforms)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable meta: not hashable, like torchvision's

    def get_state_dict(self, progress: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Fetch (or find in the cache), verify and load the file; see :func:`modelver.store.load_state_dict`."""
        from .store import load_state_dict

        return load_state_dict(self, progress=progress, **kwargs)


_OLD_METRICS, METRICS = "metrics", "_metrics"


def _warn_old_metrics(what: str, stacklevel: int) -> None:
    warnings.warn(
        f"{what} meta['{_OLD_METRICS}'] is deprecated since modelver 0.1 and will be removed in a future release: "
        f"use meta['{METRICS}'] (torchvision's key).",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


class WeightsMeta(dict):  # type: ignore[type-arg]
    """A weights entry's meta: a plain dict, except that the old key ``"metrics"`` reads ``"_metrics"``.

    modelver before torchvision's naming stored metrics under ``meta["metrics"]``; code that
    reads it keeps working for a release, with a ``DeprecationWarning``. The key is not listed
    (``keys()``, ``in``, JSON): only ``"_metrics"`` is.
    """

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> WeightsMeta:
        new = cls(meta)
        if _OLD_METRICS in new:
            if METRICS in new:
                raise ValueError(
                    f"Weights meta has both '{_OLD_METRICS}' and '{METRICS}': keep only '{METRICS}' (torchvision's key)."
                )
            _warn_old_metrics("Setting", stacklevel=4)  # the caller of Weights(...)
            new[METRICS] = new.pop(_OLD_METRICS)
        return new

    def __missing__(self, key: str) -> Any:
        if key == _OLD_METRICS and METRICS in self:
            _warn_old_metrics("Reading", stacklevel=2)
            return self[METRICS]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key == _OLD_METRICS and key not in self and METRICS in self:
            _warn_old_metrics("Reading", stacklevel=2)
            return self[METRICS]
        return super().get(key, default)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def _preprocessing_of(transforms: Any) -> dict[str, Any] | None:
    """``partial(Preset, **params)`` → ``Preset.preprocessing_meta(**params)``, when the preset describes itself."""
    describe = getattr(getattr(transforms, "func", transforms), "preprocessing_meta", None)
    if describe is None or getattr(transforms, "args", ()):
        return None
    try:
        return describe(**getattr(transforms, "keywords", {}))
    except TypeError:  # not enough parameters to say (the preset itself, uncalled)
        return None


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _same_callable(a: Any, b: Any) -> bool:
    if isinstance(a, partial) and isinstance(b, partial):
        return a.func == b.func and a.args == b.args and a.keywords == b.keywords
    return a == b


class WeightsEnum(Enum):
    """Base class of every builder's weights enum; each member's value is a :class:`Weights`.

    ``X_Weights.DEFAULT`` is an alias of the best member. Members survive ``copy``,
    ``deepcopy`` and ``pickle`` as the same object (``is``).
    """

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """Turn what a user passed as ``weights=`` into a member of this enum.

        Accepts ``None``, a member, a :class:`Weights` value (custom weights), or a name:
        ``"DEFAULT"``, ``"IMAGENET1K_V1"`` or ``"X_Weights.IMAGENET1K_V1"``.
        """
        if obj is None or isinstance(obj, (cls, Weights)):
            return obj
        if isinstance(obj, str):
            return cls._from_name(obj)
        raise TypeError(
            f"Invalid Weight class provided; expected {cls.__name__} but received {obj.__class__.__name__}."
        )

    @classmethod
    def _from_name(cls, name: str) -> WeightsEnum:
        prefix, dot, member = name.strip().rpartition(".")
        if dot and prefix != cls.__name__:
            raise UnknownWeightsError(
                f"{name!r} names weights of {prefix!r}, not {cls.__name__}. "
                f"Valid names: {', '.join(cls.__members__)}."
            )
        if not cls.__members__:
            raise UnknownWeightsError(
                f"{cls.__name__} has no entries: no pre-trained weights are released for this builder. "
                "Pass weights=None, or your own modelver.Weights."
            )
        if member == "DEFAULT":  # under a lock file, "DEFAULT" is the pinned entry, wherever DEFAULT moved
            pinned = _lock.pinned_member(cls)
            if pinned is not None:
                return pinned  # type: ignore[no-any-return]
        try:
            return cls.__members__[member]
        except KeyError:
            close = difflib.get_close_matches(member.upper(), list(cls.__members__), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownWeightsError(
                f"Unknown weights {member!r} for {cls.__name__}.{hint} "
                f"Valid names: {', '.join(cls.__members__)}."
            ) from None

    def get_state_dict(self, progress: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Fetch, verify and load this entry's file as a state_dict (keys adapted).

        Under a lock file (``modelver.use_lock``, ``MODELVER_LOCK``) that pins this enum, only
        the pinned entry loads, and only with the pinned sha256 and size: see :mod:`modelver.lockfile`.
        """
        self.warn_if_deprecated()
        pinned = _lock.pinned_weights(self)
        if pinned is None:
            return self.value.get_state_dict(progress=progress, **kwargs)
        with _lock.explain_integrity(self):
            return pinned.get_state_dict(progress=progress, **{**kwargs, **_lock.expected(self)})  # type: ignore[no-any-return]

    def warn_if_deprecated(self) -> None:
        """Warn once per call site if meta marks this entry deprecated, naming its replacement."""
        note = self.meta.get("_deprecated")
        if note:
            warnings.warn(f"{self!r} is deprecated: {note}", FutureWarning, stacklevel=3)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # Pickle by name: survives a change of meta or transforms between save and load.
        return getattr, (self.__class__, self._name_)

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Callable[..., Any]:
        return self.value.transforms

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta

    @property
    def sha256(self) -> str:
        return self.value.sha256

    @property
    def mirrors(self) -> tuple[str, ...]:
        return self.value.mirrors

    @property
    def check_hash(self) -> bool:
        return self.value.check_hash

    @property
    def state_dict_adapter(self) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        return self.value.state_dict_adapter


def weights_label(weights: Weights | WeightsEnum | None) -> str:
    """How to name a weights value in messages and manifests."""
    if weights is None:
        return "None"
    if isinstance(weights, WeightsEnum):
        return repr(weights)
    return f"Weights(url={weights.url!r})"


# Builders set architecture parameters from their weights' meta (num_classes from the categories, ...).
def overwrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """Set ``kwargs[param]`` from the weights' meta, or check the user's value agrees with it."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def overwrite_value_param(param: str, actual: Any, expected: Any) -> Any:
    """``expected`` (from the weights' meta), after checking that the user's ``actual`` (if given) agrees.

    For builders that take the parameter explicitly (``num_classes=None`` in detection builders)
    rather than through ``**kwargs``.
    """
    if actual is not None and actual != expected:
        raise ValueError(f"The parameter '{param}' expected value {expected} but got {actual} instead.")
    return expected
