"""Image preprocessing as an ONNX graph: uint8 (B, 3, H, W) of any size → normalised float crop.

Built node by node with ``onnx.helper`` rather than exported from torch: tracing the
resize with dynamic height and width through the dynamo exporter takes many minutes, this
graph takes milliseconds and matches ``weights.transforms()`` (the parity check compares
them on every export). Steps, each the ONNX form of :mod:`modelver.transforms`:

- output size: shorter side → ``resize_size``, the other ``resize_size * side // shorter``
  (torchvision's rule, in integer arithmetic);
- ``Resize`` (opset 18: ``antialias``) in float, then ``Round`` (half to even, as
  ``torch.round``), i.e. the uint8 image the preset produces;
- zero padding when the crop is larger than the resized image, then a centre ``Slice``
  whose start is ``round((size - crop) / 2)`` (Python's ``round``: half to even);
- ``/ 255``, ``- mean``, ``/ std``.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelver.errors import BundleError

from ._preprocessing import ImagePreprocessing

__all__ = ["MIN_OPSET", "preprocessing_model"]

MIN_OPSET = 18  # Resize's antialias attribute


def _resize_attributes(pre: ImagePreprocessing) -> dict[str, object]:
    if pre.interpolation == "nearest":
        # torch's "nearest" takes floor(dst * in / out); ONNX's asymmetric/floor divides by
        # out / in and lands one pixel off wherever that quotient rounds below an integer.
        raise BundleError(
            "Interpolation 'nearest' has no exact ONNX form yet; export this weights entry to torchscript or pt2."
        )
    attributes: dict[str, object] = {
        "mode": "linear" if pre.interpolation == "bilinear" else "cubic",
        "coordinate_transformation_mode": "half_pixel",
        "antialias": int(pre.antialias),
        # torch's antialiased kernels (PIL's) drop the taps outside the image and renormalise
        "exclude_outside": int(pre.antialias),
    }
    if pre.interpolation == "bicubic":
        # torch's antialiased bicubic uses PIL's a = -0.5, the plain one a = -0.75
        attributes["cubic_coeff_a"] = -0.5 if pre.antialias else -0.75
    return attributes


def preprocessing_model(
    pre: ImagePreprocessing,
    opset: int,
    *,
    input_name: str = "images",
    output_name: str = "pixel_values",
    ir_version: int | None = None,
) -> onnx.ModelProto:
    """The preprocessing as a standalone model (dynamic batch, height and width)."""
    if opset < MIN_OPSET:
        raise BundleError(f"Image preprocessing needs ONNX opset >= {MIN_OPSET} (Resize with antialias), got {opset}.")
    crop = pre.crop_size

    def const(name: str, value: object, dtype: type) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(value, dtype=dtype), f"pre/{name}")

    initializers = [
        const("resize_size", [pre.resize_size], np.int64),
        const("crop_size", [crop], np.int64),
        const("zero", [0], np.int64),
        const("two", [2], np.int64),
        const("two_f", [2.0], np.float32),
        const("spatial_axes", [2, 3], np.int64),
        const("c255", 255.0, np.float32),
        const("c0", 0.0, np.float32),
        const("mean", np.reshape(pre.mean, (1, 3, 1, 1)), np.float32),
        const("std", np.reshape(pre.std, (1, 3, 1, 1)), np.float32),
    ]
    n = helper.make_node
    nodes = [
        n("Shape", [input_name], ["pre/batch_channels"], start=0, end=2, name="pre/shape_bc"),
        n("Shape", [input_name], ["pre/hw"], start=2, end=4, name="pre/shape_hw"),
        n("ReduceMin", ["pre/hw"], ["pre/shorter"], keepdims=1, name="pre/shorter_side"),
        n("Mul", ["pre/hw", "pre/resize_size"], ["pre/hw_scaled"], name="pre/scale_sides"),
        n("Div", ["pre/hw_scaled", "pre/shorter"], ["pre/resized_hw"], name="pre/resized_sides"),
        n("Concat", ["pre/batch_channels", "pre/resized_hw"], ["pre/sizes"], axis=0, name="pre/sizes"),
        n("Cast", [input_name], ["pre/float"], to=TensorProto.FLOAT, name="pre/to_float"),
        n("Resize", ["pre/float", "", "", "pre/sizes"], ["pre/resized"], name="pre/resize", **_resize_attributes(pre)),
    ]
    last = "pre/resized"
    if pre.interpolation == "bicubic":  # cubic overshoots; the preset clamps before rounding
        nodes.append(n("Clip", [last, "pre/c0", "pre/c255"], ["pre/clipped"], name="pre/clip"))
        last = "pre/clipped"
    nodes.append(n("Round", [last], ["pre/rounded"], name="pre/round"))
    last, hw = "pre/rounded", "pre/resized_hw"
    if crop > pre.resize_size:  # the shorter side is then smaller than the crop: zero-pad it
        nodes += [
            n("Sub", ["pre/crop_size", hw], ["pre/missing"], name="pre/missing"),
            n("Max", ["pre/missing", "pre/zero"], ["pre/pad_total"], name="pre/pad_total"),
            n("Div", ["pre/pad_total", "pre/two"], ["pre/pad_begin"], name="pre/pad_begin"),
            n("Sub", ["pre/pad_total", "pre/pad_begin"], ["pre/pad_end"], name="pre/pad_end"),
            n("Concat", ["pre/pad_begin", "pre/pad_end"], ["pre/pads"], axis=0, name="pre/pads"),
            n("Pad", [last, "pre/pads", "", "pre/spatial_axes"], ["pre/padded"], name="pre/pad"),
            n("Add", [hw, "pre/pad_total"], ["pre/padded_hw"], name="pre/padded_hw"),
        ]
        last, hw = "pre/padded", "pre/padded_hw"
    nodes += [
        n("Sub", [hw, "pre/crop_size"], ["pre/excess"], name="pre/excess"),
        n("Cast", ["pre/excess"], ["pre/excess_f"], to=TensorProto.FLOAT, name="pre/excess_float"),
        n("Div", ["pre/excess_f", "pre/two_f"], ["pre/half_excess"], name="pre/half_excess"),
        n("Round", ["pre/half_excess"], ["pre/start_f"], name="pre/round_start"),
        n("Cast", ["pre/start_f"], ["pre/start"], to=TensorProto.INT64, name="pre/start"),
        n("Add", ["pre/start", "pre/crop_size"], ["pre/end"], name="pre/end"),
        n("Slice", [last, "pre/start", "pre/end", "pre/spatial_axes"], ["pre/cropped"], name="pre/crop"),
        n("Div", ["pre/cropped", "pre/c255"], ["pre/unit"], name="pre/to_unit"),
        n("Sub", ["pre/unit", "pre/mean"], ["pre/centred"], name="pre/sub_mean"),
        n("Div", ["pre/centred", "pre/std"], [output_name], name="pre/div_std"),
    ]
    used = {name for node in nodes for name in node.input}
    graph = helper.make_graph(
        nodes,
        "preprocessing",
        [helper.make_tensor_value_info(input_name, TensorProto.UINT8, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", 3, crop, crop])],
        [tensor for tensor in initializers if tensor.name in used],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    return model
