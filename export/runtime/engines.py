"""Inference engines for ONNX bundles: a small protocol, and onnxruntime as the one engine today.

An engine opens one ONNX file and runs it on numpy arrays. The ONNX loader
(:func:`modelver_export.runtime.loaders.load_onnx`) does everything else (meta, digest,
input checks), so another engine (OpenVINO, TensorRT) is one class and one registration::

    from modelver_export.registry import register_engine

    class OpenVINOEngine:                       # satisfies Engine
        def __init__(self, model_file, options): ...
    register_engine("openvino", OpenVINOEngine)
    load("bundles/lite0/onnx", engine="openvino")     # modelver run --engine openvino
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence, Union, runtime_checkable

import numpy as np

from modelver.errors import BundleError, first_line

if TYPE_CHECKING:
    from .loaders import LoadOptions

__all__ = ["Engine", "OnnxRuntimeEngine", "TensorInfo"]


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One input or output of the graph as the engine sees it: axes are ints, or names/None when dynamic."""

    name: str
    shape: tuple[Union[int, str, None], ...]
    dtype: str  # a numpy dtype name ("uint8", "float32", ...)


@runtime_checkable
class Engine(Protocol):
    """What the ONNX loader needs from an engine. Construct with ``Engine(model_file, options)``;
    raise :class:`~modelver.errors.BundleError` (one line) when the file cannot be opened."""

    #: "onnxruntime 1.22.0": shown by ``repr(bundle)`` and ``modelver run``
    label: str

    def inputs(self) -> list[TensorInfo]: ...

    def outputs(self) -> list[TensorInfo]: ...

    def metadata(self) -> Mapping[str, str]:
        """The model's ``metadata_props`` (modelver's meta: one JSON value per key, and its digest)."""
        ...

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]: ...


_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


class OnnxRuntimeEngine:
    """onnxruntime on the CPU, spinning threads off unless ``options.spin``.

    Sessions that spin their threads between runs slow down whatever runs next (~70% for
    back-to-back sessions, or torch in the same process), so spinning is off unless asked
    for: a latency-bound service with the cores to itself gains ~10% with spin=True.
    """

    def __init__(self, model_file: Path, options: LoadOptions) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise BundleError(
                "ONNX bundles run on onnxruntime, which is not installed here: pip install onnxruntime"
            ) from None
        session_options = onnxruntime.SessionOptions()
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.spin else "0")
        # int8 weights (weight-only QDQ text bundles) fuse into MatMulNBits; level 4 quantizes the activations
        # to int8 per block (onnxruntime's default, pinned: levels 0-2 compute in FP32 and ran 3x slower)
        session_options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "4")
        if options.threads:
            session_options.intra_op_num_threads = options.threads
            session_options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_file), session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise BundleError(
                f"{model_file} is not a loadable ONNX model (truncated or corrupted?): {first_line(exc)}"
            ) from None
        self.label = f"onnxruntime {onnxruntime.__version__}"

    @staticmethod
    def _info(values: Sequence[object]) -> list[TensorInfo]:
        return [
            TensorInfo(v.name, tuple(v.shape), _ORT_TYPES.get(v.type, v.type))  # type: ignore[attr-defined]
            for v in values
        ]

    def inputs(self) -> list[TensorInfo]:
        return self._info(self._session.get_inputs())

    def outputs(self) -> list[TensorInfo]:
        return self._info(self._session.get_outputs())

    def metadata(self) -> Mapping[str, str]:
        return dict(self._session.get_modelmeta().custom_metadata_map)

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        return self._session.run(list(outputs), dict(feeds))
