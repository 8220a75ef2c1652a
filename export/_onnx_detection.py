"""ONNX for detection models: one image through the TorchScript-based exporter, then a ``Loop`` over the batch.

torch's dynamo exporter goes through ``torch.export``, which cannot capture torchvision's
detection models (NMS branches on how many boxes survive). The TorchScript-based exporter
(``dynamo=False``) traces them, as torchvision documents, but the trace unrolls the models'
per-image Python loops for the example's batch size. So one image (3, H, W) is exported with
dynamic height and width, and :func:`batch_loop` runs that graph once per image of a
(B, 3, H, W) input inside an ONNX ``Loop``, stacking the per-image outputs along a new
batch axis.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any, Sequence

import onnx
import torch
from onnx import TensorProto, helper

from modelver.errors import BundleError, first_line

__all__ = ["batch_loop", "export_one_image"]

_ELEM_TYPES = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64, "uint8": TensorProto.UINT8}
_PREFIX = "image/"


def export_one_image(module: torch.nn.Module, opset: int, output_names: Sequence[str]) -> onnx.ModelProto:
    """``module(image)`` for a uint8 image (3, H, W), H and W dynamic, traced by the TorchScript-based exporter."""
    example = torch.zeros(3, 96, 128, dtype=torch.uint8)
    buffer = io.BytesIO()
    chatter = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
        # TracerWarnings about shapes torchvision turns into tensors, and the exporter's own deprecation
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        try:
            torch.onnx.export(
                module,
                (example,),
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=["image"],
                output_names=list(output_names),
                dynamic_axes={"image": {1: "height", 2: "width"}},
                do_constant_folding=True,
            )
        except Exception as exc:  # the exporter's own errors are many-paged; keep the first line
            raise BundleError(
                f"torch.onnx.export (dynamo=False) failed for {type(module).__name__}: {first_line(exc)}"
            ) from exc
    return onnx.load_from_string(buffer.getvalue())


def _shape(spec: dict[str, Any]) -> list[Any]:
    return [d if isinstance(d, int) else str(d) for d in spec["shape"]]


def batch_loop(
    one: onnx.ModelProto, input_name: str, output_names: Sequence[str], output_specs: Sequence[dict[str, Any]]
) -> onnx.ModelProto:
    """A model taking uint8 (B, 3, H, W) that runs ``one`` (on a (3, H, W) image) for each image in a Loop.

    ``one``'s initializers move to the outer graph (the body reads them from the outer scope,
    so they are stored once); its nodes become the Loop body, whose input is
    ``Gather(images, iteration)``. Each output of ``one`` becomes a scan output of the Loop,
    stacked along axis 0.
    """
    graph = one.graph
    (image_input,) = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    rename = {image_input.name: _PREFIX + "input", **{name: _PREFIX + name for name in output_names}}

    def renamed(values: Sequence[str]) -> list[str]:
        return [rename.get(v, v) for v in values]

    body_nodes = [
        helper.make_node("Gather", [input_name, "loop/iteration"], [rename[image_input.name]], axis=0, name="loop/take")
    ]
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(renamed(node.input))
        del copy.output[:]
        copy.output.extend(renamed(node.output))
        body_nodes.append(copy)
    body_nodes.append(helper.make_node("Identity", ["loop/cond_in"], ["loop/cond_out"], name="loop/keep_going"))
    specs = {spec["name"]: spec for spec in output_specs}
    body = helper.make_graph(
        body_nodes,
        "one_image",
        [
            helper.make_tensor_value_info("loop/iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("loop/cond_in", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("loop/cond_out", TensorProto.BOOL, [])]
        + [
            helper.make_tensor_value_info(rename[name], _ELEM_TYPES[specs[name]["dtype"]], _shape(specs[name])[1:])
            for name in output_names
        ],
    )
    outer_nodes = [
        helper.make_node("Shape", [input_name], ["loop/batch"], start=0, end=1, name="loop/batch_size"),
        helper.make_node("Squeeze", ["loop/batch"], ["loop/trip_count"], name="loop/trip_count"),
        helper.make_node(
            "Constant", [], ["loop/true"], value=helper.make_tensor("loop/true_value", TensorProto.BOOL, [], [True])
        ),
        helper.make_node("Loop", ["loop/trip_count", "loop/true"], list(output_names), body=body, name="loop/images"),
    ]
    outer = helper.make_graph(
        outer_nodes,
        graph.name or "detection",
        [helper.make_tensor_value_info(input_name, TensorProto.UINT8, ["batch", 3, "height", "width"])],
        [
            helper.make_tensor_value_info(name, _ELEM_TYPES[specs[name]["dtype"]], _shape(specs[name]))
            for name in output_names
        ],
        list(graph.initializer),
    )
    model = helper.make_model(outer, opset_imports=list(one.opset_import))
    model.ir_version = one.ir_version
    onnx.checker.check_model(model, full_check=True)
    return model
