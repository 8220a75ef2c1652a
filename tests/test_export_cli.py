"""`modelver export`, `python -m modelver_export`, `modelver run` and the demo's export step, as a user runs them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, subprocess_env


def run(*args: str, module: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    if module is not None:
        command = [sys.executable, "-m", module]
    else:
        exe = shutil.which("modelver", path=str(Path(sys.executable).parent))
        command = [exe] if exe else [sys.executable, "-m", "modelver"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, env=subprocess_env())


def assert_one_line_error(result: subprocess.CompletedProcess[str], prefix: str, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"{prefix}: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def cat_jpg(tmp_path: Path) -> Path:
    from modelver.predict import sample_image

    path = tmp_path / "cat.jpg"
    sample_image("chelsea").save(path, quality=95)
    return path


def test_list_shows_the_support_table_and_why_not() -> None:
    result = run("export", "--list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["builder", "task", "torchscript", "onnx", "pt2", "triton"]
    table = [" ".join(r.split()) for r in rows]
    assert "efficientnet_lite0 image_classification yes yes yes yes" in table
    assert "minilm_l6 sentence_embedding yes yes yes yes" in table
    assert "wavernn vocoder yes no no no" in table
    assert any(r.startswith("wavernn (onnx): WaveRNN draws every sample with torch.multinomial") for r in rows)
    assert any(r.startswith("tacotron2 (pt2): torch.export cannot capture Tacotron2.infer") for r in rows)


def test_list_markdown_is_the_readme_table() -> None:
    from modelver_export.cli import support_markdown

    result = run("export", "--list", "--markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == support_markdown()
    assert result.stdout.startswith("| builder | task | torchscript | onnx | pt2 | triton |\n|---|---|")
    assert "| `tacotron2` | text_to_mel | yes | no | no | no |" in result.stdout
    only = run("export", "--list", "--markdown", "minilm*")
    names = [line.split("|")[1].strip() for line in only.stdout.splitlines()[2:4]]
    assert names == ["`minilm_l6`", "`minilm_l6_classifier`"]


@pytest.mark.parametrize(
    "args, fragments",
    [
        (
            ("efficientnet_lite0", "--format", "onnx,tflite"),
            ("Unknown format 'tflite'", "torchscript, onnx, pt2, triton"),
        ),
        (("efficientnet_lite0", "--opset", "12"), ("--opset 12 is not supported: choose 18 to 23",)),
        (("efficientnet_lite0", "--weights", "V9"), ("Unknown weights 'V9'", "IMAGENET1K_V1")),
        (("resnet5",), ("Unknown model 'resnet5'",)),
        (
            ("tts_tacotron2_wavernn", "--format", "pt2"),
            ("tts_tacotron2_wavernn cannot be exported to pt2: neither of its models can be", "--list"),
        ),
        ((), ("Name the builder to export",)),
    ],
)
def test_export_errors_are_one_line(args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(run("export", *args), "modelver", *fragments)


def test_run_errors_are_one_line(tmp_path: Path, cat_jpg: Path) -> None:
    assert_one_line_error(run("run", str(tmp_path / "none"), str(cat_jpg)), "modelver", "does not exist")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07not a model")
    assert_one_line_error(
        run("run", str(tmp_path / "model.onnx"), str(cat_jpg)), "modelver", "is not a loadable ONNX model"
    )


def test_python_m_export_then_modelver_run(tmp_path: Path, cat_jpg: Path) -> None:
    out = tmp_path / "lite0"
    result = run("efficientnet_lite0", "--format", "torchscript", "--out", str(out), module="modelver_export")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "==> building efficientnet_lite0 with EfficientNet_Lite0_Weights.IMAGENET1K_V1"
    assert any(line.startswith("==> torchscript: exporting to") for line in lines)
    assert any("torchscript: parity ok on 4 inputs" in line for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("format"))
    assert lines[header].split() == ["format", "size", "export", "check", "max", "abs", "diff", "bundle"]
    row = lines[header + 1].split()
    assert row[0] == "torchscript" and row[-1] == str(out / "torchscript") and float(row[7]) <= 1e-4

    ran = run("run", str(out / "torchscript"), str(cat_jpg), "--topk", "3", "--trust")
    assert ran.returncode == 0, ran.stderr
    first, *top = ran.stdout.strip().splitlines()
    assert "torchscript bundle on torch" in first and len(top) == 3
    assert top[0].split("%", 1)[1].strip() in {"tiger cat", "Egyptian cat", "tabby"}


def test_demo_export_step_prints_both_columns_and_the_difference(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "export_and_run.py"), "--out", str(tmp_path / "lite0")],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"exported in \d+\.\d s, parity checked in \d+\.\d s", out), out
    for photo, top1 in (("chelsea", {"tiger cat", "Egyptian cat", "tabby"}), ("coffee", {"espresso"})):
        block = out.split(f"\n{photo} (")[1]
        rows = block.splitlines()[2:7]
        labels = [re.split(r"\s{2,}", row.strip())[0] for row in rows]
        assert labels[0] in top1
        for row in rows:  # eager and onnx columns, equal to the shown precision
            eager, onnx = row.split()[-2:]
            assert eager.endswith("%") and abs(float(eager[:-1]) - float(onnx[:-1])) <= 0.02
        diff = float(block.split("probabilities: ")[1].split()[0])
        assert diff < 1e-3
