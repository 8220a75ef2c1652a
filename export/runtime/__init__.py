"""Run any modelver bundle: ONNX on onnxruntime with numpy only, TorchScript and ``.pt2`` on torch.

This package imports no torch and no modelver model code (only ``modelver.errors``, and
``modelver.predict`` to name detections), so a deployment that ships an ONNX bundle needs
numpy, onnxruntime and Pillow, nothing else::

    from modelver_export.runtime import load

    bundle = load("bundles/efficientnet_lite0/onnx")    # a bundle directory, or model.onnx / .pt / .pt2
    bundle.predict_image("cat.jpg", topk=5)              # [("tiger cat", 0.61), ...]
    load("bundles/frcnn/onnx").predict_image("street.jpg")  # [Detection("person", 0.98, (x1, y1, x2, y2)), ...]
    bundle.run({"images": uint8_array})                  # {"probabilities": array}
    load("bundles/minilm_l6/onnx").embed(["A sentence.", "Another."])   # tokenizers + numpy
    load("bundles/tts/torchscript", trust_code=True).synthesize("Hello world!", seed=0)  # torch

or from a shell: ``python -m modelver_export.runtime BUNDLE PHOTO`` (or ``TEXT...`` for text and
speech bundles). TorchScript and ``.pt2`` files run code when loaded: ``load`` needs
``trust_code=True`` for them (``--trust`` on the command line).

Modules: :mod:`.bundle` (``load``, ``Bundle``), :mod:`.loaders` (one per format),
:mod:`.engines` (ONNX inference engines), :mod:`.inputs` (specs, images), :mod:`.task` and
:mod:`.image` / :mod:`.text` / :mod:`.speech` (one run-time class per task), :mod:`.cli`.
"""

from __future__ import annotations

from .bundle import Bundle, load
from .cli import describe_run, main
from .engines import Engine, TensorInfo
from .image import draw_detections
from .inputs import decode_image
from .loaders import Loaded, LoadOptions
from .speech import write_wav
from .task import RunOptions, TaskRuntime

__all__ = [
    "Bundle",
    "Engine",
    "LoadOptions",
    "Loaded",
    "RunOptions",
    "TaskRuntime",
    "TensorInfo",
    "decode_image",
    "describe_run",
    "draw_detections",
    "load",
    "main",
    "write_wav",
]
