"""BF16 ``.pt2`` bundles under torch.autocast: real weights (EfficientNet-Lite0), exported once per module.

The fixture exports EfficientNet-Lite0 to ``pt2`` and ``torchscript`` in one call; where the CPU
has BF16, the export records the ``.pt2`` bundle's BF16 agreement with FP32 in ``bundle.json``.
The tests that run BF16 skip on CPUs without it; the refusals are tested everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import subprocess_env
from export_helpers import one_line
from modelver_export import export_model
from modelver_export.agreement import HELD_OUT_PHOTOS
from modelver_export.runtime import load
from modelver_export.runtime.loaders import torch_has_bf16

from modelver.errors import BundleError
from modelver.predict import sample_image

CATS = {"tiger cat", "Egyptian cat", "tabby", "Persian cat", "Siamese cat"}
needs_bf16 = pytest.mark.skipif(not torch_has_bf16(), reason="this CPU has no BF16 instructions (AVX-512 BF16, AMX)")


@pytest.fixture(scope="module")
def lite0(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    results = export_model(
        "efficientnet_lite0", formats="pt2,torchscript", out=tmp_path_factory.mktemp("lite0"), progress=None
    )
    return {result.format: result.path for result in results}


def photo(name: str) -> np.ndarray:
    return np.asarray(sample_image(name))


def _jpg(directory: Path, name: str) -> Path:
    path = directory / f"{name}.jpg"
    sample_image(name).save(path, quality=95)
    return path


@needs_bf16
def test_bf16_pt2_keeps_espresso_and_a_cat_first(lite0: dict[str, Path]) -> None:
    bundle = load(lite0["pt2"], precision="bf16", trust_code=True)
    assert bundle.predict_image(photo("coffee"), 1)[0][0] == "espresso"
    assert bundle.predict_image(photo("chelsea"), 1)[0][0] in CATS
    pixels = photo("chelsea").transpose(2, 0, 1)[None].copy()
    fp32 = load(lite0["pt2"], trust_code=True).run(pixels)["probabilities"]
    bf16 = bundle.run(pixels)["probabilities"]
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert 0 < np.abs(fp32 - bf16).max() < 0.05  # it did run in BF16 (not FP32), and stays close


@needs_bf16
def test_bf16_pt2_agreement_is_recorded_at_export(lite0: dict[str, Path]) -> None:
    report = json.loads((lite0["pt2"] / "bundle.json").read_text())["bf16"]
    assert report["passed"] and len(report["held_out"]) == 2 * len(HELD_OUT_PHOTOS)
    figures = report["engines"]["torch (bf16)"]
    assert figures["passed"] and figures["top1_agreement"] >= 0.75 and 0 < figures["max_prob_diff"] < 0.05
    assert "bf16" not in json.loads((lite0["torchscript"] / "bundle.json").read_text())


@needs_bf16
def test_bf16_pt2_is_reported_by_the_bundle_and_modelver_run(lite0: dict[str, Path], tmp_path: Path) -> None:
    bundle = load(lite0["pt2"], precision="bf16", trust_code=True)
    assert "(torch.export, bf16)" in bundle.engine and "torch.autocast" in bundle.engine
    assert "bf16" not in load(lite0["pt2"], trust_code=True).engine
    result = subprocess.run(
        [sys.executable, "-m", "modelver", "run", str(lite0["pt2"]), "--precision", "bf16", "--trust",
         "--topk", "1", str(_jpg(tmp_path, "coffee"))],
        capture_output=True, text=True, timeout=300, env=subprocess_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, best = result.stdout.splitlines()[:2]
    assert f"pt2 bundle on {bundle.engine}" in first and best.strip().endswith("espresso")


@needs_bf16
def test_bf16_is_refused_for_a_bundle_whose_check_failed(lite0: dict[str, Path], tmp_path: Path) -> None:
    copy = shutil.copytree(lite0["pt2"], tmp_path / "pt2")
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["bf16"]["passed"] = False  # as an export whose BF16 run strayed records it
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as exc:
        load(copy, precision="bf16", trust_code=True)
    assert "BF16 run strayed from FP32 at export" in one_line(exc) and "use fp32" in one_line(exc)
    assert load(copy, trust_code=True).predict_image(photo("coffee"), 1)[0][0] == "espresso"


def test_bf16_errors_are_one_clear_line(lite0: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BundleError) as exc:
        load(lite0["torchscript"], precision="bf16", trust_code=True)
    assert "torchscript has no BF16 mode" in one_line(exc) and "--format pt2" in one_line(exc)
    with pytest.raises(BundleError) as exc:
        load(lite0["pt2"], precision="bf16")
    assert "trust_code=True" in one_line(exc)
    with pytest.raises(BundleError) as exc:
        load(lite0["pt2"], precision="fp16", trust_code=True)
    assert "Unknown precision 'fp16'; choose fp32 or bf16" in one_line(exc)
    result = subprocess.run(
        [sys.executable, "-m", "modelver", "run", str(lite0["torchscript"]), "--precision", "bf16", "--trust",
         str(_jpg(tmp_path, "coffee"))],
        capture_output=True, text=True, timeout=300, env=subprocess_env(),
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().startswith("modelver: error: precision='bf16' runs .pt2 bundles under torch.autocast")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_cpu_without_bf16_is_refused(lite0: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"architecture": "x86_64", "avx512_f": True})
    assert not torch_has_bf16()
    with pytest.raises(BundleError) as exc:
        load(lite0["pt2"], precision="bf16", trust_code=True)
    assert "needs a CPU with BF16 instructions" in one_line(exc) and "use fp32" in one_line(exc)
