"""`modelver info` prints what plugins add through the `modelver.info` entry points (export's formats), cheaply."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from typing import Any

import pytest
from conftest import subprocess_env

from modelver.cli import main


def info(name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["info", name])
    out, err = capsys.readouterr()
    return code, out, err


def test_info_shows_the_export_formats_of_each_builder(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = info("tacotron2", capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "export: torchscript (task text_to_mel; modelver export tacotron2 --format torchscript)" in lines
    assert any(line.startswith("  not pt2: torch.export cannot capture Tacotron2.infer") for line in lines)
    assert "  not triton: built from the task's ONNX graph, which this task cannot provide (see onnx)" in lines

    code, out, _ = info("minilm_l6", capsys)
    assert "export: torchscript, onnx, pt2, triton (task sentence_embedding; " in out and "  not " not in out
    code, out, _ = info("minilm_l6_classifier", capsys)  # no weights enum: info still reaches the plugins
    assert code == 0 and "weights: none" in out
    assert "export: no format\n  not torchscript, onnx, pt2, triton: no weights entry of its own" in out


class _Entry:
    def __init__(self, name: str, target: Any) -> None:
        self.name, self.value, self._target = name, f"fake:{name}", target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_a_missing_or_failing_plugin_does_not_break_info(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(name: str) -> list[str]:
        raise RuntimeError(f"cannot describe {name}")

    plugins = [
        _Entry("missing", ImportError("No module named 'export'")),
        _Entry("failing", boom),
        _Entry("working", lambda name: [f"extra: {name}"]),
    ]
    real = metadata.entry_points
    monkeypatch.setattr(
        metadata, "entry_points", lambda **kw: plugins if kw.get("group") == "modelver.info" else real(**kw)
    )
    code, out, err = info("efficientnet_lite0", capsys)
    assert code == 0
    assert out.rstrip().endswith("extra: efficientnet_lite0") and "EfficientNet_Lite0_Weights.IMAGENET1K_V1" in out
    assert err.splitlines() == [
        "modelver: warning: missing info unavailable (No module named 'export')",
        "modelver: warning: failing info unavailable (cannot describe efficientnet_lite0)",
    ]


CHEAP = """
import contextlib, io, sys
from modelver.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    assert main(['info', 'tts_tacotron2_wavernn']) == 0
assert 'export: torchscript' in out.getvalue(), out.getvalue()
heavy = [m for m in ('torchaudio', 'onnx', 'onnxruntime', 'onnxscript', 'tokenizers', 'modelver_export.tasks.speech',
                     'modelver_export.tasks.text', 'modelver_export.runtime') if m in sys.modules]
assert not heavy, heavy
print('ok')
"""


def test_the_export_lines_import_no_exporter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHEAP], capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
