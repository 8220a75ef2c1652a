"""``torch.onnx.export`` (the dynamo exporter, torch's default) to an in-memory ModelProto, quietly and fast."""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from modelver.errors import BundleError, first_line

__all__ = ["export_onnx", "fold_batchnorm", "out_of_place"]


@contextlib.contextmanager
def out_of_place(model: nn.Module) -> Iterator[None]:
    """Turn ``inplace=True`` activations off while tracing (same numbers).

    The exporters functionalise in-place ops through slow reference decompositions: for
    EfficientNet-Lite0's 33 in-place ReLU6 that costs the ONNX export about 4 s.
    """
    changed = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    for m in changed:
        m.inplace = False  # type: ignore[assignment]
    try:
        yield
    finally:
        for m in changed:
            m.inplace = True  # type: ignore[assignment]


class _ConvLeafTracer(torch.fx.Tracer):
    """Keeps every convolution a leaf (some compute their padding from the input's shape)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, nn.modules.conv._ConvNd) or super().is_leaf_module(m, qualname)


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A copy of an eval-mode module with each Conv→BatchNorm pair folded into one Conv, if it traces.

    Saves the exporter decomposing every BatchNorm (about 2.5 s for EfficientNet-Lite0);
    the ONNX optimiser would fold them afterwards anyway. Modules that torch.fx cannot
    trace are returned unchanged; the parity check compares the result with eager either way.
    """
    from torch.fx.experimental.optimization import fuse

    try:
        graph = _ConvLeafTracer().trace(module)
        return fuse(torch.fx.GraphModule(module, graph), inplace=False, no_trace=True)
    except Exception:  # noqa: BLE001 - untraceable control flow: export the module as it is
        return module


def export_onnx(
    module: nn.Module,
    args: tuple[Any, ...],
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_shapes: Any,
    opset: int,
) -> Any:
    """The eval-mode module as an ``onnx.ModelProto`` with its weights inside (no external data).

    ``optimize=True`` runs onnxscript's optimiser (constant folding, BatchNorm folded into
    the convolutions): a smaller graph, faster to load, same numbers.
    """
    module = fold_batchnorm(module)
    chatter = io.StringIO()  # the exporter prints its progress ("[torch.onnx] ...") to stdout
    with out_of_place(module), warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        try:
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_shapes=dynamic_shapes,
                opset_version=opset,
                optimize=True,
                verbose=False,
            )
        except Exception as exc:  # the exporter's own errors are many-paged; keep the first line
            raise BundleError(f"torch.onnx.export failed for {type(module).__name__}: {first_line(exc)}") from exc
    return program.model_proto
