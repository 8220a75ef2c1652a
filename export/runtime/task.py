"""What every task's run-time class provides: input checks, the task's own methods, the command-line form.

A bundle (:class:`~modelver_export.runtime.Bundle`) finds its run-time class from its
meta's ``task`` through :mod:`modelver_export.registry`, and offers that class's public
methods as its own: ``load(path).predict_image(...)`` is
``ImageClassificationRuntime(bundle).predict_image(...)``. Run-time classes import no torch.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Optional, Sequence

import numpy as np

from modelver.errors import BundleError

__all__ = ["RunOptions", "TaskRuntime", "top_k"]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The command line's options (``modelver run``): each task reads the ones it uses."""

    topk: int = 5
    out: Optional[str] = None
    seed: Optional[int] = None
    threshold: float = 0.5


class TaskRuntime:
    """The run-time side of a task; subclass it, and register it with the task (``registry.Task.runtime``).

    Subclasses add the task's methods (``predict_image``, ``embed``, ...), override
    :meth:`check` for checks across inputs, and :meth:`describe` for ``modelver run``.
    This base class serves bundles whose task is not registered: :meth:`Bundle.run` works.
    """

    task: ClassVar[str] = ""
    #: RunOptions fields beyond ``topk``/``seed`` that :meth:`describe` uses (``modelver run`` refuses the others)
    options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, bundle: Any) -> None:
        self.bundle = bundle  # the loaded modelver_export.runtime.Bundle (run, meta, inputs, format, engine)

    @property
    def meta(self) -> dict[str, Any]:
        return self.bundle.meta

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "the bundle"))

    def check(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Refuse inputs that pass their specs one by one but not together (raise BundleError)."""

    def head(self) -> str:
        """The first words of every command-line answer: which model, which bundle, on what."""
        b = self.bundle
        quantization = b.meta.get("quantization")
        kind = b.format
        if isinstance(quantization, dict):  # a derived bundle says so: INT8, and by which recipe
            kind += f" {str(quantization.get('precision', '')).upper()} ({quantization.get('method')})"
        return f"{b.meta.get('name')} ({b.meta.get('weights')}), {kind} bundle on {b.engine}"

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        """Run on command-line inputs (image paths, texts) and say what came out, as lines."""
        raise BundleError(
            f"`run` has no command-line form for {self.meta.get('task')!r} bundles; call "
            f"modelver_export.runtime.load(PATH).run(...) with its inputs {[s['name'] for s in self.bundle.inputs]}."
        )

    def require_categories(self) -> list[str]:
        categories = list(self.meta.get("categories") or [])
        if not categories:
            raise BundleError(f"This {self.meta.get('task')!r} bundle has no categories in its meta; re-export it.")
        return categories


def top_k(probs: np.ndarray, categories: list[str], topk: int) -> list[tuple[str, float]]:
    """The ``topk`` best (category, probability) of one row of scores."""
    if topk < 1:
        raise BundleError(f"topk must be at least 1, got {topk}.")
    order = np.argsort(-probs, kind="stable")[: min(topk, len(categories))]
    return [(categories[i], float(probs[i])) for i in order]
