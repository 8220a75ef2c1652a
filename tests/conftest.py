from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # tests' own helpers (http_server)

from http_server import FileServer


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets empty caches: nothing leaks between tests or from the user's home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf" / "hub"))
    for var in ("MODELVER_CACHE", "MODELVER_OFFLINE", "MODELVER_MIRROR", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    # huggingface_hub reads its cache location once, at import: point an imported one here too.
    hf_constants = sys.modules.get("huggingface_hub.constants")
    if hf_constants is not None:
        monkeypatch.setattr(hf_constants, "HF_HOME", str(home / "hf"))
        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(home / "hf" / "hub"))
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_HUB_CACHE", str(home / "hf" / "hub"))
    import torch.hub

    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    from modelver.store import _integrity

    monkeypatch.setattr(_integrity, "_memo", {})
    return home


@pytest.fixture
def registry_snapshot() -> Iterator[None]:
    """Builders a test registers are forgotten after it."""
    from modelver import _registry

    saved = dict(_registry._BUILDERS)
    yield
    _registry._BUILDERS.clear()
    _registry._BUILDERS.update(saved)


@pytest.fixture
def server() -> Iterator[FileServer]:
    with FileServer() as srv:
        yield srv


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serialized_state_dict(seed: int = 0, size: int = 64) -> tuple[dict, bytes]:
    """A small real checkpoint (zip format) and its bytes."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sd = {"weight": torch.randn(size, size, generator=g), "bias": torch.randn(size, generator=g)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    return sd, buf.getvalue()


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


class FaultReport:
    """Counts per class of fault (tried / handled / lost), printed at the end of the run."""

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}

    def record(self, fault: str, handled: bool, lost: bool = False) -> None:
        row = self.rows.setdefault(fault, [0, 0, 0])
        row[0] += 1
        row[1] += bool(handled)
        row[2] += bool(lost)


_FAULTS = FaultReport()


@pytest.fixture
def fault_report() -> FaultReport:
    return _FAULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FAULTS.rows:
        return
    terminalreporter.section("fault summary")
    for fault, (tried, handled, lost) in sorted(_FAULTS.rows.items()):
        terminalreporter.write_line(f"{fault:<40} tried {tried:>3}  handled {handled:>3}  lost {lost:>3}")


def seed_hf_cache(home: Path, repo: str, revision: str, files: dict[str, bytes], branch: str = "main") -> Path:
    """Put files in the documented huggingface_hub cache layout, as a download of ``repo`` at ``revision`` would.

    ``home`` is the test's HF_HOME parent (``isolated_caches``): blobs named by sha256,
    ``snapshots/<revision>/<file>`` symlinks to them, ``refs/<branch>`` naming the revision.
    Returns the snapshot folder.
    """
    repo_dir = home / "hf" / "hub" / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / revision
    for name, data in files.items():
        blob = repo_dir / "blobs" / sha256(data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(os.path.relpath(blob, target.parent))
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / branch).write_text(revision)
    return snapshot


# Session fixtures that live with their helpers (imported last: export_helpers imports this module).
from export_helpers import lite0_repo  # noqa: F401
