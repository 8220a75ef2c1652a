"""This repository as torch.hub gets it, and Python run the way a hub user runs it.

``make_hub_checkout`` copies what ``git archive`` of the working tree would contain (the
tracked files, with their uncommitted changes; untracked files left out) to
``$TORCH_HOME/hub/org_modelver_main``, where ``torch.hub.load("org/modelver", ...)``
finds it without network. ``run_hub`` runs code in a fresh interpreter in which the
installed (editable) modelver is hidden, so only the checkout can provide it, and the
network is off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

HUB_REPO = "org/modelver"
CHECKOUT_NAME = "org_modelver_main"

# Runs first in every hub subprocess: no installed modelver, no network.
PRELUDE = f"""
import importlib.util, os, socket, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != {str(ROOT)!r}]
assert importlib.util.find_spec("modelver") is None, "the installed modelver is visible"
def _no_network(*args, **kwargs):
    raise OSError("network disabled by the test: this machine is offline")
socket.socket.connect = _no_network
socket.getaddrinfo = _no_network
"""


def tracked_files(root: Path = ROOT) -> list[str]:
    """The repository's tracked files that exist in the working tree (``git archive``'s file list)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name and (root / name).is_file()]


def make_hub_checkout(torch_home: Path, extra_files: dict[str, str] | None = None) -> Path:
    """Copy the repository to ``$TORCH_HOME/hub/org_modelver_main`` (plus ``extra_files``: path → text)."""
    target = torch_home / "hub" / CHECKOUT_NAME
    for name in tracked_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    for name, text in (extra_files or {}).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    return target


def hub_env(torch_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TORCH_HOME=str(torch_home), MODELVER_OFFLINE="1", HF_HUB_OFFLINE="1")
    env.update(extra)
    return env


def run_hub(code: str, torch_home: Path, cwd: Path, timeout: int = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a hub user would (fresh interpreter, checkout only, offline)."""
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=hub_env(torch_home, **env),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def assert_hub_load_fails_offline(torch_home: Path, cwd: Path, model: str, weights: str, *fragments: str) -> None:
    """``torch.hub.load(repo, model, weights=weights)`` with nothing cached fails at once, saying what to do."""
    result = run_hub(f"import torch\ntorch.hub.load({HUB_REPO!r}, {model!r}, weights={weights!r})", torch_home, cwd)
    assert result.returncode != 0, result.stdout
    last = result.stderr.strip().splitlines()[-1]
    for fragment in ("MODELVER_OFFLINE=1 forbids downloading", *fragments):
        assert fragment in last, result.stderr
