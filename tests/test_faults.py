"""Fault suite for the weights store: each class of fault is tried several ways and counted.

For every case: the error is a modelver error whose message says what to do, nothing bad is
left under a cache name, and a later good attempt succeeds. The counts are printed at the end
of the run ("fault summary").
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import torch
from conftest import FaultReport, serialized_state_dict, sha256, subprocess_env
from http_server import FileServer

from modelver import Weights
from modelver.errors import CacheError, DownloadError, IntegrityError, UnsafeCheckpointError, WeightsUnavailableError
from modelver.store import _integrity, cache_path, fetch, load_file, load_state_dict
from modelver.transforms import ImageClassification


def _weights(url: str, digest: str = "") -> Weights:
    return Weights(url=url, transforms=ImageClassification, meta={}, sha256=digest)


TAMPERINGS: dict[str, Callable[[bytes], bytes]] = {
    "flip first byte": lambda b: bytes([b[0] ^ 1]) + b[1:],
    "flip middle byte": lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0xFF]) + b[len(b) // 2 + 1 :],
    "flip last byte": lambda b: b[:-1] + bytes([b[-1] ^ 1]),
    "truncated to half": lambda b: b[: len(b) // 2],
    "truncated by one byte": lambda b: b[:-1],
    "empty": lambda b: b"",
    "extra bytes appended": lambda b: b + b"\0" * 7,
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_tampered_download_is_refused_and_a_good_one_then_succeeds(
    how: str, server: FileServer, fault_report: FaultReport
) -> None:
    _, good = serialized_state_dict(size=128)
    bad = TAMPERINGS[how](good)
    server.files["/w/file.pth"] = bad
    weights = _weights(server.url("/w/file.pth"), sha256(good))
    with pytest.raises(IntegrityError) as info:
        fetch(weights, progress=False)
    handled = sha256(good) in str(info.value) and sha256(bad) in str(info.value)
    left = sorted(p.name for p in cache_path(weights.url).parent.glob("file.pth*"))
    server.files["/w/file.pth"] = good
    recovered = fetch(weights, progress=False).read_bytes() == good
    fault_report.record("tampered/truncated file (download)", handled and not left, lost=not recovered)
    assert handled and left == [] and recovered


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_tampered_cached_file_is_refused_and_a_good_one_then_succeeds(
    how: str, server: FileServer, fault_report: FaultReport
) -> None:
    _, good = serialized_state_dict(size=128)
    server.files["/w/cached.pth"] = good
    weights = _weights(server.url("/w/cached.pth"), sha256(good))
    path = fetch(weights, progress=False)
    bad = TAMPERINGS[how](good)
    path.write_bytes(bad)
    _integrity._memo.clear()
    with pytest.raises(IntegrityError) as info:
        load_state_dict(weights, progress=False)
    handled = sha256(good) in str(info.value) and sha256(bad) in str(info.value) and not path.exists()
    recovered = fetch(weights, progress=False).read_bytes() == good
    fault_report.record("tampered/truncated file (cache)", handled, lost=not recovered)
    assert handled and recovered


@pytest.mark.parametrize("cut", [1, 65_536, 200_000])
def test_server_closing_the_socket_mid_file(cut: int, server: FileServer, fault_report: FaultReport) -> None:
    _, data = serialized_state_dict(size=300)
    server.files["/w/cut.pth"] = data
    server.drop_after["/w/cut.pth"] = cut
    weights = _weights(server.url("/w/cut.pth"), sha256(data))
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(weights, progress=False)
    clean = not cache_path(weights.url).exists()
    recovered = fetch(weights, progress=False).read_bytes() == data
    resumed = server.ranges == [f"bytes={cut}-"]
    fault_report.record("server closes socket mid-file", clean and resumed, lost=not recovered)
    assert clean and recovered and resumed


DOWNLOADER = """
import sys
from modelver import Weights
from modelver.store import fetch
from modelver.transforms import ImageClassification
fetch(Weights(url=sys.argv[1], sha256=sys.argv[2], transforms=ImageClassification, meta={}), progress=False)
"""


@pytest.mark.parametrize("trial", range(2))
def test_client_killed_with_sigkill_mid_download(
    trial: int, server: FileServer, isolated_caches: Path, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict(size=500)  # ~1 MB, sent slowly
    server.files["/w/killed.pth"] = data
    server.delay_per_chunk = 0.2
    proc = subprocess.Popen(
        [sys.executable, "-c", DOWNLOADER, server.url("/w/killed.pth"), sha256(data)],
        env=subprocess_env(TORCH_HOME=str(isolated_caches / "torch")),
    )
    target = cache_path(server.url("/w/killed.pth"))
    partial = target.with_name(f"killed.pth.{proc.pid}@{socket.gethostname()}.incomplete")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not partial.exists() or partial.stat().st_size < 64 * 1024 * (trial + 1)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    clean = not target.exists() and partial.exists()
    server.delay_per_chunk = 0.0
    recovered = fetch(_weights(server.url("/w/killed.pth"), sha256(data)), progress=False).read_bytes() == data
    resumed = len(server.ranges) == 1
    fault_report.record("client SIGKILLed mid-download", clean and resumed, lost=not recovered)
    assert clean and recovered and resumed


CONCURRENT = """
import sys, hashlib
from modelver import Weights
from modelver.store import load_state_dict
from modelver.transforms import ImageClassification
w = Weights(url=sys.argv[1], sha256=sys.argv[2], transforms=ImageClassification, meta={})
sd = load_state_dict(w, progress=False)
print(hashlib.sha256(b''.join(t.numpy().tobytes() for t in sd.values())).hexdigest())
"""


@pytest.mark.parametrize("processes", [4, 6])
def test_many_processes_download_once_and_agree(
    processes: int, server: FileServer, isolated_caches: Path, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict(size=400, seed=processes)
    server.files["/w/shared.pth"] = data
    server.delay_per_chunk = 0.05  # keep the first download going while the others start
    env = subprocess_env(TORCH_HOME=str(isolated_caches / "torch"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, server.url("/w/shared.pth"), sha256(data)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for _ in range(processes)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    ok = [p.returncode for p in procs] == [0] * processes
    once = server.requests["/w/shared.pth"] == 1
    same = len({out.strip() for out, _ in outputs}) == 1
    fault_report.record(f"{processes} processes load one file at once", ok and once and same, lost=not ok)
    assert ok, [err for _, err in outputs]
    assert once and same


class _Payload:
    def __init__(self, call: Callable[..., object], *args: object) -> None:
        self.call, self.args = call, args

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (self.call, self.args)


def _payloads(marker: Path) -> dict[str, object]:
    return {
        "os.system": _Payload(os.system, f"touch {marker}"),
        "subprocess.call": _Payload(subprocess.call, ["touch", str(marker)]),
        "builtins.exec": _Payload(exec, f"open({str(marker)!r}, 'w').close()"),
        "pathlib write": _Payload(Path.touch, marker),
    }


@pytest.mark.parametrize("legacy_format", [False, True])
@pytest.mark.parametrize("payload", ["os.system", "subprocess.call", "builtins.exec", "pathlib write"])
def test_pickled_code_is_refused_and_never_runs(
    payload: str, legacy_format: bool, tmp_path: Path, fault_report: FaultReport
) -> None:
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": _payloads(marker)[payload]}, evil, _use_new_zipfile_serialization=not legacy_format)
    with pytest.raises(UnsafeCheckpointError, match="never unpickles code"):
        load_file(evil)
    ran = marker.exists()
    fault_report.record("checkpoint with a code payload", not ran, lost=ran)
    assert not ran


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


UNWRITABLE = """
import sys
from modelver import Weights
from modelver.errors import CacheError
from modelver.store import fetch
from modelver.transforms import ImageClassification
try:
    fetch(Weights(url=sys.argv[1], sha256=sys.argv[2], transforms=ImageClassification, meta={}), progress=False)
except CacheError as exc:
    print("CacheError:", exc)
"""


def _run_unwritable(prefix: list[str], cache: Path, url: str, digest: str, setup: str = "") -> str:
    script = f"{setup}\nexec({UNWRITABLE!r})"
    result = subprocess.run(
        [*prefix, sys.executable, "-c", script, url, digest],
        capture_output=True, text=True, timeout=120, env=subprocess_env(MODELVER_CACHE=str(cache)),
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("condition", ["not a directory", "read-only file system", "disk full", "file size limit"])
def test_unwritable_cache_says_which_directory_and_setting(
    condition: str, server: FileServer, tmp_path: Path, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict(size=300)
    server.files["/w/big.pth"] = data
    cache = tmp_path / "cache"
    cache.mkdir()
    url, digest = server.url("/w/big.pth"), sha256(data)
    if condition == "not a directory":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file")
        cache = blocker / "cache"
        out = _run_unwritable([], cache, url, digest)
        reason = "Not a directory"
    elif condition == "file size limit":
        setup = "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); " \
                "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))"
        out = _run_unwritable([], cache, url, digest, setup)
        reason = "file size limit is exceeded"
    else:
        if not _can_unshare():
            pytest.skip("needs `unshare -rm` (user namespaces) to mount a read-only or tiny file system")
        mount = (
            f"mount --bind {cache} {cache} && mount -o remount,bind,ro {cache}"
            if condition == "read-only file system"
            else f"mount -t tmpfs -o size=64k tmpfs {cache}"
        )
        script = f"import subprocess; subprocess.run({mount!r}, shell=True, check=True)"
        out = _run_unwritable(["unshare", "-rm"], cache, url, digest, script)
        reason = "read-only file system" if condition == "read-only file system" else "the disk is full"
    handled = out.startswith("CacheError:") and str(cache) in out and "MODELVER_CACHE" in out and reason in out
    leftover = any(cache.rglob("big.pth")) if cache.parent.is_dir() else False
    fault_report.record("unwritable cache", handled and not leftover)
    assert handled, out
    assert not leftover


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to open a network connection fails the test (and is recorded)."""
    attempts: list[object] = []

    def guard(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"network call to {address}")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket.socket, "connect_ex", guard)
    return attempts


@pytest.mark.parametrize("scheme", ["https", "hf"])
def test_offline_with_nothing_cached_fails_fast_and_says_how(
    scheme: str, monkeypatch: pytest.MonkeyPatch, no_network: list[object], fault_report: FaultReport
) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    url = (
        "https://download.example.org/models/offline-12345678.pth"
        if scheme == "https"
        else "hf://org/repo@0123456789abcdef0123456789abcdef01234567/model.safetensors"
    )
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        fetch(_weights(url), progress=False)
    elapsed = time.monotonic() - start
    message = str(info.value)
    if scheme == "https":
        says_how = "copy it to" in message and str(cache_path(url)) in message
    else:
        says_how = "hf download" in message
    handled = elapsed < 2 and url.split("@")[0].split("/models")[0] in message and says_how and not no_network
    fault_report.record("offline, nothing cached", handled)
    assert handled, (elapsed, message, no_network)


def test_offline_with_everything_cached_makes_no_network_call(
    server: FileServer, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    sd, data = serialized_state_dict()
    server.files["/w/cached-ok.pth"] = data
    weights = _weights(server.url("/w/cached-ok.pth"), sha256(data))
    fetch(weights, progress=False)
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    attempts: list[object] = []

    def guard(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError("network call")

    monkeypatch.setattr(socket.socket, "connect", guard)
    loaded = load_state_dict(weights, progress=False)
    from modelver.models.efficientnet_lite import efficientnet_lite0

    efficientnet_lite0(weights="DEFAULT")  # pkg:// weights: no network either
    handled = not attempts and torch.equal(loaded["weight"], sd["weight"])
    fault_report.record("offline, everything cached", handled)
    assert handled


def test_cache_errors_are_modelver_errors() -> None:
    from modelver.errors import ModelverError

    assert issubclass(CacheError, ModelverError) and issubclass(CacheError, OSError)
