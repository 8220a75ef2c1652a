"""torchaudio 0.9's ``tacotron2(checkpoint_name=...)`` / ``wavernn(checkpoint_name=...)`` keep working."""

from __future__ import annotations

import posixpath
import warnings
from typing import Any

from ..._legacy import SINCE
from ..._weights import WeightsEnum


def pop_checkpoint_name(enum: type[WeightsEnum], kwargs: dict[str, Any], weights: Any) -> Any:
    """If ``kwargs`` has torchaudio's old ``checkpoint_name``, return the entry of that file (with a warning)."""
    name = kwargs.pop("checkpoint_name", None)
    if name is None:
        return weights
    by_name = {posixpath.splitext(posixpath.basename(m.url))[0]: m for m in enum}
    chosen = by_name.get(name)
    if chosen is None:
        raise ValueError(f"Unexpected checkpoint_name: {name!r}. Valid names: {', '.join(by_name)}.")
    if weights is not None:
        raise ValueError(f"Pass weights= or the deprecated checkpoint_name=, not both (got {weights!r} and {name!r}).")
    warnings.warn(
        f"The parameter 'checkpoint_name' is deprecated since {SINCE} and may be removed in the future, "
        f"please use 'weights' instead: weights={chosen!r}.",
        UserWarning,
        stacklevel=5,  # the user, above the builder and its two legacy wrappers
    )
    return chosen
