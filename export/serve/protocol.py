"""The Open Inference Protocol (V2, what Triton, KServe and MLServer speak) over JSON: numpy and json only.

Requests are checked here before any model runs; a bad one raises :class:`ProtocolError`
with the HTTP status and one line, which the service sends as ``{"error": "..."}``
(the V2 error body). Shapes and value ranges beyond the datatype are checked by the
bundle itself (``Bundle.run`` raises ``BundleError``, also a 400).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._catalog import Model, Version

__all__ = [
    "DATATYPES",
    "ProtocolError",
    "datatype",
    "error_body",
    "infer_response",
    "model_metadata",
    "parse_infer",
    "version_metadata",
]

#: V2 datatype → numpy dtype (BYTES, strings, is not a tensor any bundle takes).
DATATYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}
_NUMPY_TO_V2 = {numpy_name: v2 for v2, numpy_name in DATATYPES.items()}
MAX_ELEMENTS = 64 * 2**20  # per input tensor: a 4096 x 4096 RGB image is 50M


class ProtocolError(Exception):
    """A request the service refuses: ``status`` (4xx) and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(message: str) -> dict[str, str]:
    return {"error": message}


def datatype(numpy_dtype: str) -> str:
    """A bundle spec's numpy dtype as its V2 datatype (``uint8`` → ``UINT8``)."""
    return _NUMPY_TO_V2.get(str(np.dtype(numpy_dtype)), "BYTES")


def _tensor_metadata(spec: Mapping[str, Any]) -> dict[str, Any]:
    # Named axes (batch, height, sequence) are variable: -1 in V2 metadata, as Triton reports them.
    shape = [d if isinstance(d, int) else -1 for d in spec["shape"]]
    return {"name": spec["name"], "datatype": datatype(spec["dtype"]), "shape": shape}


def _platform(version: Version) -> str:
    return "onnxruntime_onnx" if version.format in ("onnx", "triton") else f"pytorch_{version.format}"


def model_metadata(model: Model) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the default version's tensors, every version, and each one's weights entry."""
    body = version_metadata(model.version(None))
    for key in ("version", "weights", "weights_name"):
        body.pop(key)
    body["versions"] = model.labels
    body["default_version"] = model.labels[list(model.versions).index(model.default)]
    body["modelver_versions"] = {
        label: {"weights_name": v.name, "weights": v.meta.get("weights")}
        for label, v in zip(model.labels, model.versions.values())
    }
    return body


def version_metadata(version: Version) -> dict[str, Any]:
    """``GET /v2/models/{name}/versions/{v}``: V2 model metadata, plus the bundle's task and weights entry."""
    meta = version.meta
    return {
        "name": version.model,
        "versions": [str(version.number) if version.number is not None else version.name],
        "version": str(version.number) if version.number is not None else version.name,
        "platform": _platform(version),
        "inputs": [_tensor_metadata(s) for s in version.inputs],
        "outputs": [_tensor_metadata(s) for s in version.outputs],
        "task": meta.get("task"),
        "weights": meta.get("weights"),
        "weights_name": version.name,
    }


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(400, f"The request body is not JSON ({exc}).") from None
    if not isinstance(request, dict):
        raise ProtocolError(400, "The request body must be a JSON object with an 'inputs' list.")
    return request


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value):
        raise ProtocolError(400, f"Input {name!r}: 'shape' must be a list of non-negative integers, got {value!r}.")
    return tuple(value)


def _tensor(item: Any, specs: Mapping[str, Mapping[str, Any]], model: str) -> tuple[str, np.ndarray]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ProtocolError(400, "Each entry of 'inputs' needs a 'name', a 'shape', a 'datatype' and 'data'.")
    name = item["name"]
    spec = specs.get(name)
    if spec is None:
        raise ProtocolError(400, f"Unknown input {name!r}; {model} takes {sorted(specs)}.")
    missing = [key for key in ("shape", "datatype", "data") if key not in item]
    if missing:
        raise ProtocolError(400, f"Input {name!r} has no {missing[0]!r}.")
    shape = _shape(item["shape"], name)
    want = datatype(spec["dtype"])
    if item["datatype"] != want:
        raise ProtocolError(400, f"Input {name!r} has datatype {item['datatype']!r}; {model} takes {want}.")
    if item.get("parameters", {}).get("binary_data_size") is not None:
        raise ProtocolError(400, f"Input {name!r}: binary tensor data is not supported; send 'data' as JSON.")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise ProtocolError(413, f"Input {name!r} has {count} elements; this service takes at most {MAX_ELEMENTS}.")
    try:
        array = np.asarray(item["data"], dtype=DATATYPES[want])
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(400, f"Input {name!r}: 'data' is not a list of {want} values ({exc}).") from None
    if array.size != count:
        raise ProtocolError(400, f"Input {name!r} has {array.size} values; its shape {list(shape)} needs {count}.")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ProtocolError(400, f"Input {name!r} holds NaN or infinite values.")
    return name, array.reshape(shape)


def parse_infer(body: bytes, version: Version) -> tuple[str | None, dict[str, np.ndarray], list[str]]:
    """``POST .../infer``: (request id, input arrays by name, output names asked for)."""
    request = _load_json(body)
    items = request.get("inputs")
    if not isinstance(items, list) or not items:
        raise ProtocolError(400, "The request needs an 'inputs' list with one tensor per model input.")
    specs = {spec["name"]: spec for spec in version.inputs}
    arrays: dict[str, np.ndarray] = {}
    for item in items:
        name, array = _tensor(item, specs, version.model)
        if name in arrays:
            raise ProtocolError(400, f"Input {name!r} is given twice.")
        arrays[name] = array
    missing = [name for name in specs if name not in arrays]
    if missing:
        raise ProtocolError(400, f"Missing input {missing[0]!r}; {version.model} takes {list(specs)}.")
    known = [spec["name"] for spec in version.outputs]
    wanted = request.get("outputs")
    if wanted is None:
        outputs = known
    elif isinstance(wanted, list) and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in wanted):
        outputs = [o["name"] for o in wanted]
        unknown = [o for o in outputs if o not in known]
        if unknown:
            raise ProtocolError(400, f"Unknown output {unknown[0]!r}; {version.model} returns {known}.")
    else:
        raise ProtocolError(400, "'outputs' must be a list of {\"name\": ...} objects.")
    request_id = request.get("id")
    return (str(request_id) if request_id is not None else None), arrays, outputs


def infer_response(
    version: Version, request_id: str | None, outputs: Mapping[str, np.ndarray], names: Sequence[str]
) -> dict[str, Any]:
    """The V2 response: each output asked for as a flat row-major ``data`` list with its shape and datatype."""
    body: dict[str, Any] = {
        "model_name": version.model,
        "model_version": str(version.number) if version.number is not None else version.name,
        "outputs": [
            {
                "name": name,
                "shape": list(outputs[name].shape),
                "datatype": datatype(str(outputs[name].dtype)),
                "data": outputs[name].reshape(-1).tolist(),
            }
            for name in names
        ],
    }
    if request_id is not None:
        body["id"] = request_id
    return body
