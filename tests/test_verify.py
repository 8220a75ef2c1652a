"""Fingerprints guard released weights: the whole registry verifies, and a real behaviour change is caught."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, subprocess_env

from modelver import fingerprint, list_models
from modelver.errors import ModelverError


def test_every_entry_of_the_registry_matches_its_committed_fingerprint() -> None:
    results = fingerprint.verify()
    bad = [(r.key, r.status, r.detail) for r in results if r.status != "ok"]
    assert not bad, f"run `modelver verify` for details: {bad}"
    covered = {r.key.split("/")[0] for r in results}
    weightless = {n for n in list_models() if n not in covered}
    assert weightless <= {"minilm_l6_classifier"}, weightless  # documented as weight-less
    committed = set(fingerprint.load_file()["entries"])
    assert committed == {r.key for r in results}, "fingerprints.json has entries no builder has"


def test_real_weights_are_fingerprinted_where_they_ship_offline() -> None:
    entries = fingerprint.load_file()["entries"]
    assert "real" in entries["efficientnet_lite0/EfficientNet_Lite0_Weights.IMAGENET1K_V1"]
    assert "real" in entries["minilm_l6/MiniLM_L6_Weights.ALL_MINILM_L6_V2"]


def _copy_package(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "modelver", copy / "modelver", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _verify_in(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelver", "verify", *args],
        capture_output=True, text=True, timeout=600, env=subprocess_env(PYTHONPATH=str(copy)), cwd=copy,
    )


def test_changing_a_layer_default_is_flagged_on_exactly_the_affected_entries(tmp_path: Path) -> None:
    """EfficientNet-Lite's BatchNorm eps 1e-3 → 1e-2: only its entry changes, every other entry stays ok."""
    copy = _copy_package(tmp_path)
    module = copy / "modelver" / "models" / "efficientnet_lite.py"
    source = module.read_text()
    assert "_BN_EPS = 1e-3" in source
    module.write_text(source.replace("_BN_EPS = 1e-3", "_BN_EPS = 1e-2"))
    result = _verify_in(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = dict(re.findall(r"^(\S+/\S+)\s+(ok|changed|new|skipped)\b", result.stdout, re.MULTILINE))
    assert {k for k, v in rows.items() if v == "changed"} == {"efficientnet_lite0/EfficientNet_Lite0_Weights.IMAGENET1K_V1"}
    assert set(rows.values()) == {"ok", "changed"}
    assert len(rows) == len(fingerprint.load_file()["entries"])
    assert "largest difference" in result.stdout and "ContextParams" in result.stdout


def test_update_needs_a_reason_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "fingerprints.json"
    shutil.copy(fingerprint.FINGERPRINTS, path)
    with pytest.raises(ModelverError, match="needs a reason"):
        fingerprint.update(["efficientnet_lite0"], "  ", path=path)
    fingerprint.update(["efficientnet_lite0"], "retrained head", path=path)
    record = json.loads(path.read_text())["entries"]["efficientnet_lite0/EfficientNet_Lite0_Weights.IMAGENET1K_V1"]
    assert record["history"][-1]["reason"] == "retrained head" and len(record["history"]) >= 2


def test_an_entry_without_fingerprint_is_reported_new(tmp_path: Path) -> None:
    path = tmp_path / "fingerprints.json"
    data = fingerprint.load_file()
    del data["entries"]["wavernn/WaveRNN_Weights.LJSPEECH_8BITS"]
    path.write_text(json.dumps(data))
    [result] = fingerprint.verify(["wavernn"], path=path)
    assert result.status == "new" and "--update" in result.detail


def test_tolerance_absorbs_float_noise_but_not_real_change() -> None:
    ref = {"out": fingerprint.summarize(__import__("torch").linspace(-3, 3, 100))}
    noisy = json.loads(json.dumps(ref))
    noisy["out"]["stats"]["mean"] += 1e-7
    assert fingerprint._max_difference(ref, noisy)[0] == 0.0
    changed = json.loads(json.dumps(ref))
    changed["out"]["values"][3] += 1e-2
    difference, where = fingerprint._max_difference(ref, changed)
    assert difference == pytest.approx(1e-2) and where == "out[3]"
