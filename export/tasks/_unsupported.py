"""Why some tasks cannot be exported to some formats: plain strings, so the support table imports no torch.

Each reason was found by trying (torch 2.11, torchaudio 2.11) and is what ``modelver export
--list``, ``modelver info`` and the refusal of ``modelver export`` show.
"""

from __future__ import annotations

__all__ = ["UNSUPPORTED"]

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
_TRITON = "Triton bundles serve an ONNX model (onnxruntime backend) and {what} has none (see onnx)"

_DETECTION_PT2 = (
    "torch.export cannot capture torchvision's detection models: NMS branches on how many boxes survive the "
    "score filter (boxes.numel() == 0 in torchvision/ops/boxes.py _batched_nms_coordinate_trick, a guard on a "
    "data-dependent size; torch 2.14, torchvision 0.29, strict and non-strict)"
)

#: task → format → why not (the supported formats are listed in modelver_export.tasks.EXPORTERS)
UNSUPPORTED: dict[str, dict[str, str]] = {
    "object_detection": {"pt2": _DETECTION_PT2},
    "text_to_mel": {"pt2": _TACOTRON2_PT2, "onnx": _TACOTRON2_ONNX, "triton": _TRITON.format(what="Tacotron2")},
    "vocoder": {"pt2": _WAVERNN_PT2, "onnx": _WAVERNN_ONNX, "triton": _TRITON.format(what="WaveRNN")},
    "text_to_speech": {
        "pt2": f"neither of its models can be: {_TACOTRON2_PT2}; {_WAVERNN_PT2}",
        "onnx": f"neither of its models can be: {_TACOTRON2_ONNX}; {_WAVERNN_ONNX}",
        "triton": _TRITON.format(what="Tacotron2 + WaveRNN"),
    },
}
