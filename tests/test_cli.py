"""The `modelver` command as a user runs it: output, exit codes, one-line errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import subprocess_env


def run(*args: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("modelver", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "modelver"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, env=subprocess_env())


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("modelver: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_and_pattern() -> None:
    result = run("list")
    assert result.returncode == 0 and "efficientnet_lite0" in result.stdout.split()
    assert run("list", "efficientnet*").stdout.split() == ["efficientnet_lite0"]
    assert_one_line_error(run("list", "nothing*"), "No model matches 'nothing*'")


def test_info_shows_signature_entries_and_default() -> None:
    result = run("info", "efficientnet_lite0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "efficientnet_lite0(*, weights:" in out
    assert "EfficientNet_Lite0_Weights.IMAGENET1K_V1  (DEFAULT)" in out
    assert "sha256: 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db" in out
    assert "num_params: 4652008" in out and "categories: 1000 items: tench" in out


def test_predict_on_a_photo_file(tmp_path: Path) -> None:
    from modelver.predict import sample_image

    photo = tmp_path / "coffee.jpg"
    sample_image("coffee").save(photo, quality=95)
    result = run("predict", "efficientnet_lite0", str(photo), "--topk", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[1].split("%", 1)[1].strip() == "espresso"


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("info", "resnet5"), ("Unknown model 'resnet5'",)),
        (("predict", "efficientnet_lite0", "/no/such.jpg"), ("/no/such.jpg does not exist",)),
        (("predict", "efficientnet_lite0", __file__), ("is not an image",)),
        (("predict", "efficientnet_lite0", __file__, "--weights", "V9"), ("Unknown weights 'V9'", "IMAGENET1K_V1")),
    ],
)
def test_errors_are_one_clear_line(args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(run(*args), *fragments)


def test_demo_prints_cat_and_espresso() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    chelsea, coffee = result.stdout.split("coffee (scikit-image")
    first_cat = chelsea.split("top-5")[1].strip().splitlines()[0]
    assert first_cat.split("%", 1)[1].strip() in {"tiger cat", "Egyptian cat", "tabby"}
    assert coffee.split("top-5")[1].strip().splitlines()[0].split("%", 1)[1].strip() == "espresso"
