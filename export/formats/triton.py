"""A Triton Inference Server model repository: ``<name>/config.pbtxt``, ``<name>/1/model.onnx``, labels.

The model is the ONNX bundle's (preprocessing inside), served by Triton's onnxruntime
backend with dynamic batching. ``bundle.json`` sits in the model directory, which Triton
ignores. This writer writes version 1 of a staging directory; the exporter adds it to the
repository as the next number (:mod:`modelver_export.triton_repo`), and the config serves
every version (``version_policy: all``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelver.errors import BundleError

from ..registry import get_format
from ..tasks._base import TaskExporter
from . import Written
from .onnx import details, onnx_proto, save

MAX_BATCH_SIZE = 8
LABELS = "labels.txt"
_DATA_TYPES = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "int8": "TYPE_INT8",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "float32": "TYPE_FP32",
    "float64": "TYPE_FP64",
}


def _tensor(spec: dict[str, Any], extra: dict[str, str]) -> list[str]:
    shape = list(spec["shape"])
    if not shape or shape[0] != "batch":
        raise BundleError(f"Triton bundles batch on the first axis; {spec['name']!r} has shape {shape}.")
    dims = ", ".join(str(d) if isinstance(d, int) else "-1" for d in shape[1:])
    if spec["dtype"] not in _DATA_TYPES:
        raise BundleError(f"No Triton data type for {spec['dtype']!r} ({spec['name']!r}).")
    lines = [
        "  {",
        f"    name: {json.dumps(spec['name'])}",
        f"    data_type: {_DATA_TYPES[spec['dtype']]}",
    ]
    if dims:
        lines.append(f"    dims: [ {dims} ]")
    else:  # one value per batch item, shape (batch,): Triton's form is dims [1] reshaped to []
        lines += ["    dims: [ 1 ]", "    reshape: { shape: [ ] }"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in extra.items()]
    lines.append("  }")
    return lines


def config_pbtxt(task: TaskExporter, name: str, labelled: bool, max_batch_size: int = MAX_BATCH_SIZE) -> str:
    """Triton's ModelConfig in protobuf text format; ``labelled``: scores over classes name ``labels.txt``."""

    def output_options(output: str) -> dict[str, str]:
        return {"label_filename": LABELS} if labelled and output in task.score_outputs else {}

    def block(key: str, specs: list[dict[str, Any]], extra: Any) -> list[str]:
        body: list[str] = []
        for i, spec in enumerate(specs):
            body += _tensor(spec, extra(spec["name"]))
            if i < len(specs) - 1:
                body[-1] += ","
        return [f"{key} [", *body, "]"]

    lines = [
        f"# modelver model of {task.name}, Triton's onnxruntime backend; versions.json maps each version to its weights",
        f"name: {json.dumps(name)}",
        'backend: "onnxruntime"',
        "version_policy: { all { } }",
        f"max_batch_size: {max_batch_size}",
        *block("input", task.inputs(), lambda _: {}),
        *block("output", task.outputs(), output_options),
        "dynamic_batching { }",
    ]
    return "\n".join(lines) + "\n"


def write(task: TaskExporter, meta: dict[str, Any], directory: Path, options: dict[str, Any]) -> Written:
    """``directory`` is the model directory ``<repository>/<name>``."""
    model = onnx_proto(task, meta, options)
    model_file = get_format("triton").model_file
    (directory / model_file).parent.mkdir(parents=True, exist_ok=True)
    save(model, directory / model_file)
    files = [model_file]
    categories = meta.get("categories") or []
    (directory / "config.pbtxt").write_text(config_pbtxt(task, directory.name, bool(categories)), encoding="utf-8")
    files.append("config.pbtxt")
    if categories:  # Triton's classification extension reads the class names from it
        (directory / LABELS).write_text("\n".join(categories) + "\n", encoding="utf-8")
        files.append(LABELS)
    info = details(task, model)
    info["server"] = "Triton Inference Server, onnxruntime backend"
    return Written(model_file, files, info)
