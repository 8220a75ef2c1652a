"""Bundles that carry code run only when trusted, and a file is loaded as what it really is.

The hostile bundle is real: a TorchScript module whose forward overwrites the start of a
file through ``torch.from_file(shared=True)``, packed as a modelver bundle with a correct
manifest and meta digest (all an attacker needs is public). Trusted, it does its damage;
untrusted, or disguised as ONNX, it never reaches torch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import subprocess_env
from export_helpers import refusal
from modelver_export._bundle import (
    BUNDLE_VERSION,
    META_DIGEST_FILE,
    META_FILE,
    canonical_json,
    file_entry,
    meta_digest,
    write_manifest,
)
from modelver_export.runtime import load

ORIGINAL = b"original content"


class Hostile(torch.nn.Module):
    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mapped = torch.from_file(self.victim, shared=True, size=4, dtype=torch.uint8)
        mapped.fill_(88)  # "XXXX" over the victim's first bytes
        return x * 2 + mapped.sum().to(x.dtype) * 0


def hostile_bundle(directory: Path, victim: Path, fmt: str, model_file: str) -> Path:
    meta = {
        "name": "innocent",
        "task": "custom",
        "weights": "Innocent.V1",
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 2]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": ["batch", 2]}],
    }
    directory.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(Hostile(str(victim)))
        extra = {META_FILE: canonical_json(meta), META_DIGEST_FILE: meta_digest(meta)}
        torch.jit.save(scripted, str(directory / model_file), _extra_files=extra)
    write_manifest(
        directory,
        {
            "bundle_version": BUNDLE_VERSION,
            "format": fmt,
            "model_file": model_file,
            "files": {model_file: file_entry(directory, model_file)},
            "meta": meta,
        },
    )
    return directory


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(ORIGINAL)
    return path


def test_torchscript_bundle_needs_trust_and_the_hostile_code_is_real(tmp_path: Path, victim: Path) -> None:
    bundle_dir = hostile_bundle(tmp_path / "bundle", victim, "torchscript", "model.pt")
    for target in (bundle_dir, bundle_dir / "model.pt"):
        handled, message = refusal(lambda target=target: load(target), "runs code from the file", "trust_code=True")
        assert handled, message
    assert victim.read_bytes() == ORIGINAL

    command = [sys.executable, "-m", "modelver", "run", str(bundle_dir), "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("modelver: error: ") and "--trust" in result.stderr
    assert victim.read_bytes() == ORIGINAL

    # what --trust / trust_code=True lets through is the file's own code, for real
    out = load(bundle_dir, trust_code=True).run(np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(out["y"], [[2.0, 2.0]])
    assert victim.read_bytes() == b"XXXX" + ORIGINAL[4:]


def test_a_torchscript_file_disguised_as_onnx_never_reaches_torch(tmp_path: Path, victim: Path) -> None:
    # the manifest claims ONNX for a TorchScript archive named model.onnx: refused even with trust
    disguised = hostile_bundle(tmp_path / "disguised", victim, "onnx", "model.onnx")
    for trust in (False, True):
        handled, message = refusal(
            lambda trust=trust: load(disguised, trust_code=trust),
            "model.onnx is a torchscript file, not onnx as its manifest says",
        )
        assert handled, message
    # the bare file: its suffix is the claim
    bare = shutil.copy(disguised / "model.onnx", tmp_path / "model.onnx")
    handled, message = refusal(lambda: load(bare, trust_code=True), "is a torchscript file, not onnx as its name says")
    assert handled, message
    # the manifest tells the truth but the name lies: it is TorchScript, so it still needs trust
    honest = hostile_bundle(tmp_path / "honest", victim, "torchscript", "model.onnx")
    handled, message = refusal(lambda: load(honest), "is a torchscript file, which runs code", "trust_code=True")
    assert handled, message
    # a pickle (torch.save) claiming to be TorchScript is neither
    torch.save({"x": torch.ones(1)}, tmp_path / "pickle.pt")
    handled, message = refusal(lambda: load(tmp_path / "pickle.pt", trust_code=True), "is no bundle format")
    assert handled, message
    assert victim.read_bytes() == ORIGINAL
    assert json.loads((disguised / "bundle.json").read_text())["format"] == "onnx"  # nothing rewritten
