"""modelver's own bundle formats and tasks, as registrations (strings only: importing this imports no torch).

Each refusal reason was found by trying (torch 2.14, torchvision 0.29, torchaudio 2.11) and
is what ``modelver export --list``, ``modelver info`` and the refusal of ``modelver export`` show.
"""

from __future__ import annotations

from ._spec import Format, Task
from .sniff import is_onnx, is_pt2, is_torchscript

__all__ = ["FORMATS", "TASKS"]

FORMATS = (
    Format(
        name="torchscript",
        model_file="model.pt",
        writer="modelver_export.formats.torchscript:write",
        loader="modelver_export.runtime.loaders:load_torchscript",
        sniff=is_torchscript,
        needs="script",
        carries_code=True,
        description="torch.jit.script of the whole pipeline, frozen; runs on torch (C++ and mobile too)",
    ),
    Format(
        name="onnx",
        model_file="model.onnx",
        writer="modelver_export.formats.onnx:write",
        loader="modelver_export.runtime.loaders:load_onnx",
        sniff=is_onnx,
        needs="onnx",
        description="one ONNX file, preprocessing in the graph; runs on onnxruntime with numpy only",
    ),
    Format(
        name="pt2",
        model_file="model.pt2",
        writer="modelver_export.formats.pt2:write",
        loader="modelver_export.runtime.loaders:load_pt2",
        sniff=is_pt2,
        needs="torch.export",
        carries_code=True,
        description="torch.export of the whole pipeline with dynamic shapes; runs on torch",
    ),
    Format(
        name="triton",
        model_file="1/model.onnx",
        writer="modelver_export.formats.triton:write",
        loader="modelver_export.runtime.loaders:load_onnx",
        sniff=is_onnx,
        needs="onnx",
        layout="triton/{name}",
        description="a Triton Inference Server model repository serving the ONNX model (onnxruntime backend), "
        "one numbered version per weights entry",
        versioned=True,
    ),
)

_TACOTRON2_PT2 = (
    "torch.export cannot capture Tacotron2.infer: its encoder packs the batch by the values of the lengths "
    "and its decoder loop stops when the predicted gate fires (data-dependent control flow)"
)
_TACOTRON2_ONNX = (
    "no ONNX exporter captures Tacotron2.infer (the dynamo one goes through torch.export, the TorchScript one "
    "cannot convert lengths.cpu()), and its prenet samples dropout at inference, which onnxruntime could not "
    "reproduce for a parity check"
)
_WAVERNN_PT2 = (
    "torch.export unrolls WaveRNN.infer's loop (one step per audio sample) for the example's length, "
    "so the time axis cannot stay dynamic"
)
_WAVERNN_ONNX = (
    "WaveRNN draws every sample with torch.multinomial: onnxruntime would draw its own random numbers, so no "
    "ONNX bundle could be checked against eager (the TorchScript-based exporter writes one; the dynamo one "
    "unrolls the loop)"
)
_DETECTION_PT2 = (
    "torch.export cannot capture torchvision's detection models: NMS branches on how many boxes survive the "
    "score filter (boxes.numel() == 0 in torchvision/ops/boxes.py _batched_nms_coordinate_trick, a guard on a "
    "data-dependent size; torch 2.14, torchvision 0.29, strict and non-strict)"
)

_TASKS = "modelver_export.tasks"
_RUN = "modelver_export.runtime"
TASKS = (
    Task(
        "image_classification",
        f"{_TASKS}.image_classification:ImageClassificationExporter",
        f"{_RUN}.image:ImageClassificationRuntime",
    ),
    Task("sentence_embedding", f"{_TASKS}.text:SentenceEmbeddingExporter", f"{_RUN}.text:SentenceEmbeddingRuntime"),
    Task("text_encoding", f"{_TASKS}.text:TextEncodingExporter", f"{_RUN}.text:TextEncodingRuntime"),
    Task(
        "text_classification", f"{_TASKS}.text:TextClassificationExporter", f"{_RUN}.text:TextClassificationRuntime"
    ),
    Task(
        "text_to_mel",
        f"{_TASKS}.speech:TextToMelExporter",
        f"{_RUN}.speech:TextToMelRuntime",
        cannot={"torch.export": _TACOTRON2_PT2, "onnx": _TACOTRON2_ONNX},
    ),
    Task(
        "vocoder",
        f"{_TASKS}.speech:VocoderExporter",
        f"{_RUN}.speech:VocoderRuntime",
        cannot={"torch.export": _WAVERNN_PT2, "onnx": _WAVERNN_ONNX},
    ),
    Task(
        "text_to_speech",
        f"{_TASKS}.speech:TextToSpeechExporter",
        f"{_RUN}.speech:TextToSpeechRuntime",
        cannot={
            "torch.export": f"neither of its models can be: {_TACOTRON2_PT2}; {_WAVERNN_PT2}",
            "onnx": f"neither of its models can be: {_TACOTRON2_ONNX}; {_WAVERNN_ONNX}",
        },
    ),
    Task(
        "object_detection",
        f"{_TASKS}.object_detection:ObjectDetectionExporter",
        f"{_RUN}.image:ObjectDetectionRuntime",
        cannot={"torch.export": _DETECTION_PT2},
    ),
)
