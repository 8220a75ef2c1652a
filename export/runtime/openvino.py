"""OpenVINO as an engine for ONNX bundles (``pip install 'modelver[openvino]'``): reads ``model.onnx`` directly.

Registered as ``"openvino"`` (``load(path, engine="openvino")``, ``modelver run --engine
openvino``); ``engine="auto"`` picks it where it is the faster engine (see
:mod:`modelver_export.runtime.engine_choice`). On the CPU, with ``INFERENCE_PRECISION_HINT``
pinned to f32 unless ``precision="bf16"`` (OpenVINO would otherwise switch to BF16 by itself
on CPUs with AMX, and the bundle would no longer match its parity report).

One fault of OpenVINO 2026.4's ONNX frontend is worked around: it ignores ``Resize``'s
``antialias`` attribute, so it resizes photos to pixels up to 9 (chelsea) and 35 (coffee)
uint8 steps away from torch's, half of them off (exactly onnxruntime's result with
``antialias=0``), and EfficientNet-Lite0's probabilities move by 0.03. An image bundle whose
preprocessing has an antialiased ``Resize`` therefore runs that small graph on onnxruntime
and the model (from ``pixel_values`` on) on OpenVINO.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from modelver.errors import BundleError, first_line

from .engines import TensorInfo

if TYPE_CHECKING:
    from .loaders import LoadOptions

__all__ = ["PIXELS", "OpenVINOEngine"]

#: the preprocessed crop inside image bundles (``modelver_export.tasks.image_classification.PIXELS``)
PIXELS = "pixel_values"
INSTALL = "pip install 'modelver[openvino]' (or openvino)"


def _dims(shape: Any) -> tuple[int | str | None, ...]:
    return tuple(d.get_length() if d.is_static else None for d in shape)


def _split_antialiased_resize(path: Path, threads: int | None) -> tuple[Any, Any]:
    """(onnxruntime session of the preprocessing, ONNX model of the rest), or (None, None) when not needed."""
    try:
        import onnx
    except ImportError:  # cannot split: OpenVINO runs the whole graph
        return None, None
    model = onnx.load(str(path))
    antialiased = any(
        node.op_type == "Resize" and any(a.name == "antialias" and a.i for a in node.attribute)
        for node in model.graph.node
    )
    if not antialiased or PIXELS not in {out for node in model.graph.node for out in node.output}:
        return None, None
    import onnxruntime

    extractor = onnx.utils.Extractor(model)
    pre = extractor.extract_model([i.name for i in model.graph.input], [PIXELS])
    head = extractor.extract_model([PIXELS], [o.name for o in model.graph.output])
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(pre.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session, head


class OpenVINOEngine:
    """One ONNX file compiled by OpenVINO for the CPU (see the module doc)."""

    def __init__(self, model_file: Path, options: LoadOptions) -> None:
        try:
            import openvino
        except ImportError:
            raise BundleError(f"The openvino engine is not installed here: {INSTALL}.") from None
        precision = getattr(options, "precision", "fp32")
        core = openvino.Core()
        if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise BundleError(
                "precision='bf16' needs a CPU with BF16 instructions (AVX-512 BF16 or AMX); this one has none: "
                "use fp32."
            )
        try:
            model = core.read_model(str(model_file))
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises its own exception types
            raise BundleError(
                f"{model_file} is not a loadable ONNX model (truncated or corrupted?): {first_line(exc)}"
            ) from None
        rt_info = model.get_rt_info()
        framework = rt_info["framework"] if "framework" in rt_info else {}  # noqa: SIM401 - an RTMap; metadata_props
        self._metadata = {key: value.astype(str) for key, value in framework.items()}
        self._inputs = [
            TensorInfo(i.get_any_name(), _dims(i.get_partial_shape()), i.get_element_type().to_dtype().name)
            for i in model.inputs
        ]
        self._outputs = [
            TensorInfo(o.get_any_name(), _dims(o.get_partial_shape()), o.get_element_type().to_dtype().name)
            for o in model.outputs
        ]
        self._pre, head = _split_antialiased_resize(model_file, options.threads)
        self.label = f"openvino {openvino.__version__.split('-')[0]}" + (" (bf16)" if precision == "bf16" else "")
        if self._pre is not None:
            model = core.read_model(head.SerializeToString(), b"")
            self.label += ", preprocessing on onnxruntime (antialiased Resize)"
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            # int8 weights (weight-only QDQ text bundles): activations quantized at run time per 32 values,
            # OpenVINO's CPU default, pinned so that the agreement measured at export holds on later versions
            "DYNAMIC_QUANTIZATION_GROUP_SIZE": 32,
        }
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = int(options.threads)
        try:
            compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises its own exception types
            raise BundleError(f"OpenVINO cannot compile {model_file}: {first_line(exc)}") from None
        self._request = compiled.create_infer_request()
        self._ports = {output.get_any_name(): output for output in compiled.outputs}

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def metadata(self) -> Mapping[str, str]:
        return dict(self._metadata)

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        if self._pre is not None:
            feeds = {PIXELS: self._pre.run([PIXELS], dict(feeds))[0]}
        try:
            result = self._request.infer(dict(feeds))
        except Exception as exc:  # noqa: BLE001 - OpenVINO's own errors are many lines: one, and which engine
            raise BundleError(f"OpenVINO could not run this model: {first_line(exc)}") from None
        return [np.array(result[self._ports[name]], copy=True) for name in outputs]  # the request reuses its buffers
