"""Helpers of the export tests: parity cases, an interpreter where some imports fail, one-line error messages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import subprocess_env

from modelver.errors import BundleError

__all__ = [
    "FAMILY_TESTED",
    "PARITY_TESTED",
    "blocked_python",
    "family_cases",
    "finetuned_lite0",
    "lite0_repo",
    "one_line",
    "parity_cases",
    "refusal",
]

#: (builder, format) pairs that some export test checks for parity; filled by parity_cases
PARITY_TESTED: set[tuple[str, str]] = set()
#: builder → the fully tested builder of its family (test_export_family.py); filled by family_cases
FAMILY_TESTED: dict[str, str] = {}


def parity_cases(builders: Mapping[str, Sequence[str]]) -> list[Any]:
    """``(name, fmt)`` parameters for a parity test over these builders and formats.

    Recording them here is what lets test_export_coverage check that every format a builder
    supports (``export.support_table()``) has a parity test: only a parametrized test adds them.
    """
    cases = [(name, fmt) for name, formats in builders.items() for fmt in formats]
    PARITY_TESTED.update(cases)
    return [pytest.param(name, fmt, id=f"{name}-{fmt}") for name, fmt in cases]


def family_cases(families: Mapping[str, str]) -> list[Any]:
    """``(name, tested)`` parameters of the family parity test; recorded for the coverage test."""
    FAMILY_TESTED.update(families)
    return [pytest.param(name, tested, id=name) for name, tested in families.items()]


def blocked_python(code: str, *blocked: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing any of ``blocked`` raises ImportError."""
    site = cwd / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Blocker:\n"
        f"    names = {set(blocked)!r}\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in self.names:\n"
        "            raise ImportError(f'{name} is blocked in this test')\n"
        "sys.meta_path.insert(0, _Blocker())\n"
    )
    env = subprocess_env()
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def refusal(call: Callable[[], object], *fragments: str) -> tuple[bool, str]:
    """Call ``call``; whether it refused with a one-line BundleError naming every fragment, and what it said.

    Fault tests record the first in the fault summary before asserting it.
    """
    try:
        call()
    except BundleError as exc:
        message = str(exc)
        return "\n" not in message and all(f in message for f in fragments), message
    return False, "no BundleError raised"


def finetuned_lite0(directory: Path, seed: int = 1, name: str = "lite0-finetuned") -> Path:
    """A user's own EfficientNet-Lite0 checkpoint: the real weights with a retrained (here: perturbed) classifier,
    saved as ``NAME.pth`` in the model's own key names (what ``torch.save(model.state_dict())`` writes)."""
    import torch

    from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights, efficientnet_lite0

    state = efficientnet_lite0(weights=EfficientNet_Lite0_Weights.DEFAULT).state_dict()
    noise = torch.randn(state["classifier.weight"].shape, generator=torch.Generator().manual_seed(seed))
    state["classifier.weight"] = state["classifier.weight"] + 0.02 * noise
    path = directory / f"{name}.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="session")
def lite0_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Triton model repository with two versions of EfficientNet-Lite0, made once per session the way a user
    makes it: ``modelver export efficientnet_lite0 --weights IMAGENET1K_V1,lite0-finetuned.pth --format triton``
    (version 1: the real weights; version 2: a fine-tuned checkpoint), parity-checked. Tests that change
    it work on a copy."""
    from modelver.cli import main

    out = tmp_path_factory.mktemp("lite0-versions")
    checkpoint = finetuned_lite0(out)
    code = main(["export", "efficientnet_lite0", "--weights", f"IMAGENET1K_V1,{checkpoint}", "--format", "triton",
                 "--out", str(out)])
    assert code == 0
    return out / "triton"
