"""INT8 ONNX bundles: onnxruntime's quantization tools applied to an exported FP32 ``model.onnx``.

Two recipes, chosen by task, each measured against the FP32 pipeline (README "INT8 and BF16
bundles" has the figures behind every choice):

- image classification: **static QDQ** (QuantizeLinear/DequantizeLinear pairs around every
  quantizable node), uint8 activations (asymmetric) and int8 weights per output channel,
  MinMax calibration. The preprocessing graph in front of the model (resize, crop,
  normalise) stays FP32: it is not linear algebra and its uint8 input needs no
  quantization. Calibrated on 26 real photos: scikit-image's photos *other than*
  :data:`modelver_export.agreement.HELD_OUT_PHOTOS` and their mirror images, plus the
  images of ``calibration=DIR``; each fed at the model's resize size so every calibration
  run has one shape. Percentile and entropy calibration clip the ReLU6 activations of
  EfficientNet-Lite0 and were worse (max probability difference 0.26-0.30 vs 0.05 on
  ``coffee``); so was quantizing only Conv/Gemm (0.32: every Add and Clip then
  re-quantizes in FP32).
- text encoders: **weight-only QDQ with dynamic activations**: every MatMul with a constant
  weight reads it through ``DequantizeLinear`` from int8 (symmetric, per output channel); the
  engine quantizes the activations to int8 at run time, per block, and runs an integer GEMM:
  OpenVINO's CPU plugin treats the pattern as compressed weights with dynamic quantization
  (groups of 32 values), onnxruntime fuses it into ``MatMulNBits`` (8 bits, accuracy level 4:
  int8 activations per block). Per-block ranges follow each input and hold the few outlier
  channels of LayerNorm outputs, so every MatMul can be quantized: MiniLM's published
  similarities move by 0.003 (smallest cosine with FP32 0.999). onnxruntime's
  ``quantize_dynamic`` (``MatMulInteger``, one uint8 range per tensor) had to keep the 24
  MatMuls reading a LayerNorm output in FP32 to stay within 0.01 (every MatMul: 0.011-0.016)
  and then ran at 0.57x eager on either engine, against 0.29x for this recipe on OpenVINO;
  static QDQ was worse still (0.026), as calibration ranges cannot follow sentence length
  and content.

Every other task is refused. The result keeps the bundle's inputs, outputs and meta, plus a
``quantization`` entry (derived from which weights and FP32 file, method, settings,
calibration set digest).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import onnx

from modelver.errors import BundleError

__all__ = [
    "CALIBRATION_PHOTOS",
    "IMAGE_TASKS",
    "QUANTIZE",
    "TEXT_TASKS",
    "calibration_images",
    "check_quantize",
    "quantize_model",
    "weight_only_int8",
]

QUANTIZE = ("int8",)
IMAGE_TASKS = ("image_classification",)
TEXT_TASKS = ("sentence_embedding", "text_encoding", "text_classification")
#: scikit-image photos calibrated on (grey ones as RGB); the held-out ones are never among them
CALIBRATION_PHOTOS = (
    "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "logo",
    "camera", "clock", "coins", "moon", "page", "brick", "grass", "gravel",
)  # fmt: skip
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def check_quantize(quantize: str | None, task: str | None, formats: Sequence[str], calibration: Any) -> None:
    """Refuse a quantization request this exporter cannot honour, before anything is built."""
    if quantize is None:
        if calibration is not None:
            raise BundleError("--calibration goes with --quantize int8; add --quantize int8 or drop --calibration.")
        return
    if quantize not in QUANTIZE:
        raise BundleError(f"Unknown quantization {quantize!r}; choose {', '.join(QUANTIZE)}.")
    other = [f for f in formats if f not in ("onnx", "triton")]
    if other:
        raise BundleError(
            f"--quantize int8 makes ONNX bundles (onnx, triton); not {', '.join(other)}. "
            "Export those formats without --quantize."
        )
    if task not in (*IMAGE_TASKS, *TEXT_TASKS):
        raise BundleError(
            f"--quantize int8 supports image classification and text encoders; this model's task is {task!r}."
        )
    if calibration is not None and task in TEXT_TASKS:
        raise BundleError(
            "Text encoders are quantized dynamically (activation ranges are measured on each input at run time), "
            "so they take no --calibration; drop it."
        )
    if calibration is not None and not Path(calibration).is_dir():
        raise BundleError(f"--calibration {calibration}: not a directory of images (jpg, png, ...).")


# --- calibration ------------------------------------------------------------------------------------------
def _as_rgb(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def _fit(image: Any, size: int) -> np.ndarray:
    """An RGB PIL image → uint8 (1, 3, size, size): shorter side to ``size``, centre square."""
    from PIL import Image

    width, height = image.size
    scale = size / min(width, height)
    image = image.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.BILINEAR)
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    square = np.asarray(image.crop((left, top, left + size, top + size)))
    return np.ascontiguousarray(square.transpose(2, 0, 1)[None])


def _directory_images(directory: Path) -> Iterator[tuple[str, Any]]:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BundleError(
            f"--calibration {directory} holds no images ({', '.join(IMAGE_SUFFIXES)}); add photos like the ones "
            "the model will see."
        )
    for path in files:
        try:
            with Image.open(path) as image:
                yield f"{directory.name}/{path.name}", image.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise BundleError(f"--calibration: {path} is not an image PIL can read ({exc}).") from None


def calibration_images(
    size: int, directory: str | os.PathLike[str] | None = None
) -> tuple[list[str], list[np.ndarray]]:
    """(names, uint8 (1, 3, size, size) arrays): the built-in photos and mirrors, then ``directory``'s images."""
    from PIL import Image

    try:
        from skimage import data
    except ImportError:
        raise BundleError("Calibration photos come from scikit-image: pip install scikit-image") from None
    names, arrays = [], []
    for photo in CALIBRATION_PHOTOS:
        image = Image.fromarray(_as_rgb(getattr(data, photo)()))
        for label, variant in ((photo, image), (f"{photo} (mirrored)", image.transpose(Image.FLIP_LEFT_RIGHT))):
            names.append(f"skimage.data.{label}")
            arrays.append(_fit(variant, size))
    if directory is not None:
        for name, image in _directory_images(Path(directory)):
            names.append(name)
            arrays.append(_fit(image, size))
    return names, arrays


def calibration_digest(names: Sequence[str], arrays: Sequence[np.ndarray]) -> str:
    """sha256 over every calibration input (name, shape, bytes), in order."""
    digest = hashlib.sha256()
    for name, array in zip(names, arrays):
        digest.update(f"{name}\0{array.dtype}{array.shape}\0".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# --- graph selection --------------------------------------------------------------------------------------
def upstream_nodes(model: onnx.ModelProto, tensor: str) -> list[str]:
    """Names of the nodes ``tensor`` is computed from (the preprocessing in front of the model input)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    seen: set[str] = set()
    stack, names = [tensor], []
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        names.append(node.name)
        stack.extend(node.input)
    return names


def weight_only_int8(model: onnx.ModelProto) -> int:
    """Make every MatMul with a constant 2-D weight read it through ``DequantizeLinear`` from int8; how many.

    Weights: int8, symmetric, one scale per output channel (onnxruntime.quantization's own
    range and rounding functions). The FP32 weights leave the file.
    """
    from onnxruntime.quantization.quant_utils import compute_data_quant_params, quantize_onnx_initializer

    if max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0) < 13:
        raise BundleError("INT8 weights need ONNX opset >= 13 (per-channel DequantizeLinear); re-export the bundle.")
    int8 = onnx.TensorProto.INT8
    constants = {init.name: init for init in model.graph.initializer}
    replaced: dict[str, str] = {}
    nodes: list[onnx.NodeProto] = []
    for node in model.graph.node:
        weight = constants.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight is not None and len(weight.dims) == 2:
            if weight.name not in replaced:
                array = onnx.numpy_helper.to_array(weight).astype(np.float32)
                params = [compute_data_quant_params(array[:, c], int8, symmetric=True) for c in range(array.shape[1])]
                zero = np.array([p[0] for p in params], dtype=np.int8)
                scale = np.array([p[1] for p in params], dtype=np.float32)
                quantized = quantize_onnx_initializer(
                    weight, int8, zero, scale, axis=1, quant_weight_name=f"{weight.name}.int8"
                )
                names = [quantized.name, f"{weight.name}.scale", f"{weight.name}.zero_point"]
                model.graph.initializer.extend(
                    [
                        quantized,
                        onnx.numpy_helper.from_array(scale, names[1]),
                        onnx.numpy_helper.from_array(zero, names[2]),
                    ]
                )
                replaced[weight.name] = f"{weight.name}.dequantized"
                nodes.append(onnx.helper.make_node(
                    "DequantizeLinear", names, [replaced[weight.name]], axis=1, name=f"{weight.name}.DequantizeLinear"
                ))  # fmt: skip
            node.input[1] = replaced[weight.name]
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    kept = [init for init in model.graph.initializer if init.name not in replaced or init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return len(replaced)


# --- quantization -----------------------------------------------------------------------------------------
def _quiet() -> Any:
    """onnxruntime.quantization logs advice through the root logger; keep the exporter's output readable."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    return level


def quantize_model(
    task: Any, source: Path, target: Path, calibration: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Quantize the FP32 ONNX file ``source`` of ``task`` into ``target``; what was done, for the meta."""
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = onnx.load(str(source))
    tool = f"onnxruntime.quantization {onnxruntime.__version__}"
    level = _quiet()
    try:
        if task.task in TEXT_TASKS:
            count = weight_only_int8(model)
            onnx.save(model, str(target))
            return {
                "method": "weight-only-qdq",
                "tool": tool,
                "settings": {
                    "format": "QDQ on weights only: int8 weight -> DequantizeLinear -> MatMul",
                    "weights": f"{count} MatMul weights, int8, symmetric, per output channel",
                    "activations": "int8, quantized by the engine at run time per block (OpenVINO: dynamic "
                    "quantization, groups of 32; onnxruntime: MatMulNBits, accuracy level 4)",
                    "kept_fp32": "attention products (no constant weight), LayerNorm, softmax, everything else",
                },
                "calibration": None,
            }
        from .tasks.image_classification import PIXELS

        names, arrays = calibration_images(task.pre.resize_size, calibration)
        input_name = model.graph.input[0].name

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._feeds = iter([{input_name: array} for array in arrays])

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self._feeds, None)

        preprocessing = upstream_nodes(model, PIXELS)
        softmax = [node.name for node in model.graph.node if node.op_type == "Softmax"]
        quantize_static(
            source, target, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=preprocessing + softmax,
        )  # fmt: skip
    finally:
        logging.getLogger().setLevel(level)
    return {
        "method": "static-qdq",
        "tool": tool,
        "settings": {
            "format": "QDQ (QuantizeLinear/DequantizeLinear around each quantized node)",
            "weights": "int8, symmetric, per output channel",
            "activations": "uint8, asymmetric, per tensor, MinMax over the calibration set",
            "kept_fp32": f"the {len(preprocessing)} preprocessing nodes (resize, crop, normalise) and the softmax",
        },
        "calibration": {
            "inputs": len(arrays),
            "sources": names,
            "fed_as": f"uint8, shorter side resized to {task.pre.resize_size}, centre square (one shape for all runs)",
            "sha256": calibration_digest(names, arrays),
        },
    }


def make_int8(
    task: Any,
    meta: dict[str, Any],
    directory: Path,
    model_file: str,
    calibration: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Replace the bundle's FP32 ``model_file`` by its INT8 form; the new meta (``meta`` + ``quantization``).

    The FP32 file is not kept: its sha256 is recorded under ``quantization.derived_from``,
    with the weights entry and weights file it was exported from.
    """
    from ._bundle import META_DIGEST_KEY, meta_digest, sha256_file

    path = directory / model_file
    fp32 = path.with_name(path.stem + ".fp32.onnx")
    path.replace(fp32)
    try:
        done = quantize_model(task, fp32, path, calibration)
        done["derived_from"] = {
            "weights": meta.get("weights"),
            "weights_sha256": meta.get("source_sha256"),
            "fp32_model_sha256": sha256_file(fp32),
            "fp32_model": f"{model_file} as exported without --quantize (not kept)",
        }
    finally:
        fp32.unlink(missing_ok=True)
    done = {"precision": "int8", **done}
    new_meta = {**meta, "quantization": done}
    model = onnx.load(str(path))
    import json

    del model.metadata_props[:]
    props = {key: json.dumps(value, ensure_ascii=False) for key, value in new_meta.items()}
    props[META_DIGEST_KEY] = meta_digest(new_meta)
    onnx.helper.set_model_props(model, props)
    model.doc_string = (
        f"INT8 ({done['method']}, onnxruntime.quantization) of the FP32 export below; agreement with FP32 "
        "in the bundle's bundle.json.\n\n" + model.doc_string
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(path)
    return new_meta
