"""What every task exporter provides; the format writers and the parity check use only this.

A task exporter turns (model, weights) into one module = preprocessing + model +
postprocessing, with named inputs and outputs, and says how to check it: the eager
reference pipeline and the inputs to compare on. It provides the capabilities the format
writers build on (:data:`modelver_export.registry.CAPABILITIES`): a scriptable torch module,
an exportable one (``export_args``, ``dynamic_shapes``), an ONNX graph. Adding a task means
this subclass, a run-time class (:class:`modelver_export.runtime.TaskRuntime`) and one
:class:`modelver_export.registry.Task` registration.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..registry import Format

__all__ = ["Case", "TaskExporter", "bundle_directory", "image_cases"]


@dataclasses.dataclass
class Case:
    """One parity input: a name people can read and the named input arrays."""

    name: str
    inputs: dict[str, np.ndarray]
    #: False where an exporter's kernels may legitimately round differently from torch's
    #: (e.g. onnxruntime's resampling): the task then checks that step on its own.
    exact: bool = True
    #: For models that sample (dropout at inference, multinomial sampling): eager and the
    #: bundle both run right after ``torch.manual_seed(seed)``, so they draw the same numbers.
    seed: int | None = None

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in self.inputs.items())
        seeded = f", torch.manual_seed({self.seed})" if self.seed is not None else ""
        return f"{self.name}: {shapes}{seeded}"


def bundle_directory(model_path: Any) -> Path:
    """The bundle directory (the one holding ``bundle.json``) of a model file inside it."""
    from .._bundle import MANIFEST

    path = Path(model_path)
    for parent in path.parents:
        if (parent / MANIFEST).is_file():
            return parent
    return path.parent


def image_cases(input_name: str, photo: str, shapes: Sequence[tuple[str, tuple[int, ...]]]) -> list[Case]:
    """An image task's parity cases: scikit-image's real photo ``photo`` (``chelsea``, ``astronaut``, ...)
    first when scikit-image is installed, then seeded random uint8 images of each ``(label, shape)``."""
    cases = []
    try:
        from skimage import data
    except ImportError:
        pass
    else:
        pixels = np.ascontiguousarray(getattr(data, photo)().transpose(2, 0, 1)[None])
        cases.append(Case(f"{photo} photo (scikit-image)", {input_name: pixels}))
    rng = np.random.default_rng(0)
    cases += [Case(label, {input_name: rng.integers(0, 256, shape, dtype=np.uint8)}) for label, shape in shapes]
    return cases


class TaskExporter:
    """Base class of the per-task exporters (one instance per export)."""

    task: ClassVar[str]
    #: output name → absolute tolerance of the parity check, and what it is applied to.
    tolerances: ClassVar[Mapping[str, float]]
    tolerance_note: ClassVar[str] = ""
    #: outputs that are scores over classes (the parity report says whether the top-1 agrees)
    score_outputs: ClassVar[tuple[str, ...]] = ()
    #: what the parity check compares, when it is not simply every output on every case
    parity_note: ClassVar[str] = ""

    def __init__(self, name: str, model: Any, weights: Any, weights_label: str) -> None:
        self.name = name
        self.model = model
        self.weights = weights
        self.weights_label = weights_label

    # --- description -------------------------------------------------------------------
    def inputs(self) -> list[dict[str, Any]]:
        """Input specs: ``{"name", "dtype", "shape" (ints or axis names), "description"}``."""
        raise NotImplementedError

    def outputs(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def task_meta(self) -> dict[str, Any]:
        """Meta beyond the weights' own: what a runtime needs (categories, preprocessing...)."""
        return {}

    def doc_lines(self) -> list[str]:
        """Markdown lines about using the bundle (for the ONNX doc_string)."""
        return []

    # --- checking ----------------------------------------------------------------------
    def cases(self) -> list[Case]:
        """Parity inputs: the real sample first, then random inputs of other sizes."""
        raise NotImplementedError

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The eager pipeline's outputs (builder + ``weights.transforms()`` + postprocessing).

        For a case with a ``seed`` the caller has just called ``torch.manual_seed(seed)``.
        """
        raise NotImplementedError

    def align(self, reference: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """``actual`` rearranged to pair with ``reference`` before comparing (e.g. detections whose
        order ties decide); the outputs as they are by default."""
        return actual

    def case_tolerances(self, fmt: Format, case: Case) -> dict[str, float | None]:
        """output → the atol that fails the check for this format (``fmt.needs`` says what it was built from)
        and case; None: report only."""
        return dict(self.tolerances)

    def extra_checks(self, fmt: Format, model_path: Any, cases: list[Case]) -> dict[str, dict[str, Any]]:
        """Further per-case checks of an artifact (case name → report with a ``passed`` key)."""
        return {}

    # --- artifacts ---------------------------------------------------------------------
    @classmethod
    def check_options(cls, formats: list[Format], options: Mapping[str, Any]) -> None:
        """Refuse options this task cannot honour (e.g. an ONNX opset), before anything is built."""

    def torch_module(self) -> Any:
        """The whole pipeline as one scriptable, exportable ``nn.Module`` (inputs in spec order)."""
        raise NotImplementedError

    def export_args(self) -> tuple[Any, ...]:
        """Example inputs for ``torch.export`` (sizes chosen so no axis specialises)."""
        raise NotImplementedError

    def dynamic_shapes(self) -> Any:
        raise NotImplementedError

    def onnx_model(self, opset: int) -> Any:
        """The pipeline as one ``onnx.ModelProto`` (weights inside, no external data)."""
        raise NotImplementedError

    def onnx_details(self) -> dict[str, Any]:
        """How :meth:`onnx_model` builds its graph, for the manifest's ``export`` section."""
        return {"method": "torch.onnx.export (dynamo, optimize=True)"}

    def bundle_files(self) -> dict[str, bytes]:
        """Files every bundle of this task carries beside the model (e.g. a tokenizer's), by name."""
        return {}
