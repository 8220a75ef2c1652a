"""Identity: the weights you name are the bytes you get (issue 15), against a loopback server that lies.

Each class of fault is tried and counted in the run's "fault summary": distinct locations that
share a file name, file names that look like hash prefixes, junk responses (an HTML page, a
body longer than its Content-Length, a 206 with a wrong Content-Range, a stream with no
Content-Length), a lock holder that is stopped, locks that do not hold, and hf:// entries
offline. In every case nothing invalid stays under a cache name and a good attempt then works.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import FaultReport, serialized_state_dict, sha256, subprocess_env
from http_server import FileServer

from modelver import Weights
from modelver.errors import (
    DownloadError,
    IntegrityError,
    WeightsError,
)
from modelver.store import _settings, cache_dir, cache_path, fetch, load_state_dict
from modelver.transforms import ImageClassification


def _weights(url: str, digest: str = "", **kwargs: object) -> Weights:
    return Weights(url=url, transforms=ImageClassification, meta=kwargs.pop("meta", {}), sha256=digest, **kwargs)


def _kept(name: str) -> list[str]:
    """Every file in the cache whose name starts with ``name`` (bookkeeping folders left out)."""
    return sorted(
        str(p.relative_to(cache_dir()))
        for p in cache_dir().rglob(f"{name}*")
        if p.is_file() and ".locks" not in p.parts
    )


# ---- two locations, one file name --------------------------------------------------------------


@pytest.mark.parametrize("pinned", [False, True], ids=["no sha256", "sha256"])
@pytest.mark.parametrize("how", ["folders", "query", "mirror with a query"])
def test_two_locations_with_one_file_name_never_share_a_cache_file(
    how: str, pinned: bool, server: FileServer, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    (sd_a, a), (sd_b, b) = serialized_state_dict(seed=1), serialized_state_dict(seed=2)
    if how == "folders":
        urls = [server.url("/a/m.pth"), server.url("/b/m.pth")]
        server.files.update({"/a/m.pth": a, "/b/m.pth": b})
    elif how == "query":
        urls = [server.url("/m.pth?v=1"), server.url("/m.pth?v=2")]
        server.files.update({"/m.pth?v=1": a, "/m.pth?v=2": b})
    else:  # entries on another host, fetched from a mirror whose URL carries a token
        monkeypatch.setenv("MODELVER_MIRROR", server.url("/mirror?token=s3cret"))
        urls = ["https://weights.invalid/a/m.pth", "https://weights.invalid/b/m.pth"]
        server.files.update({"/mirror/a/m.pth?token=s3cret": a, "/mirror/b/m.pth?token=s3cret": b})
    entries = [_weights(urls[0], sha256(a) if pinned else ""), _weights(urls[1], sha256(b) if pinned else "")]
    try:
        loaded = [load_state_dict(w, progress=False) for w in entries]
        again = [load_state_dict(w, progress=False) for w in entries]  # both from the cache now
        handled = all(
            torch.equal(got["weight"], want["weight"])
            for got, want in zip(loaded + again, [sd_a, sd_b, sd_a, sd_b])
        )
    except WeightsError as exc:
        handled = False
        print(exc)
    fault_report.record("one file name, two locations", handled, lost=not handled)
    assert handled
    assert sum(server.requests.values()) == 2  # one download each, then cache hits


def test_torchvision_files_kept_by_name_are_reused_only_when_they_verify(
    server: FileServer, fault_report: FaultReport
) -> None:
    _sd, data = serialized_state_dict(seed=3)
    _, other = serialized_state_dict(seed=4)
    torchvision_dir = _settings.torch_checkpoints_dir()
    torchvision_dir.mkdir(parents=True)
    (torchvision_dir / "tv.pth").write_bytes(data)  # what torchvision downloaded earlier
    (torchvision_dir / "same-name.pth").write_bytes(other)  # another file of the same name
    server.files["/w/tv.pth"] = data
    server.files["/w/same-name.pth"] = data

    reused = fetch(_weights(server.url("/w/tv.pth"), sha256(data)), progress=False)
    fetched = fetch(_weights(server.url("/w/same-name.pth"), sha256(data)), progress=False)
    unverifiable = fetch(_weights(server.url("/w/tv.pth")), progress=False)  # no digest: not reused

    handled = (
        reused == torchvision_dir / "tv.pth"
        and server.requests["/w/tv.pth"] == 1  # only for the entry without a digest
        and fetched == cache_path(server.url("/w/same-name.pth")) and fetched.read_bytes() == data
        and (torchvision_dir / "same-name.pth").read_bytes() == other  # torchvision's file left alone
        and unverifiable != torchvision_dir / "tv.pth"
    )
    fault_report.record("one file name, two locations", handled)
    assert handled


@pytest.mark.parametrize("pinned", [False, True], ids=["no sha256", "sha256"])
def test_offline_the_file_copied_where_the_error_says_is_used(
    pinned: bool, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    sd, data = serialized_state_dict(seed=8)
    server.files["/w/placed.pth"] = data
    weights = _weights(server.url("/w/placed.pth"), sha256(data) if pinned else "")
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        fetch(weights, progress=False)
    place = Path(re.search(r"copy it to (\S+) \(", str(info.value)).group(1))  # type: ignore[union-attr]
    place.parent.mkdir(parents=True, exist_ok=True)
    place.write_bytes(data)  # what a user does with a file fetched elsewhere
    assert torch.equal(load_state_dict(weights, progress=False)["weight"], sd["weight"])
    assert server.requests["/w/placed.pth"] == 0


# ---- hash prefixes: opt-in --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ckpt-500000.pth", "model-20240101.pt", "resnet-facade.pth"])
@pytest.mark.parametrize("where", ["local path", "download"])
def test_a_users_file_whose_name_looks_like_a_hash_prefix_loads(
    name: str, where: str, server: FileServer, tmp_path: Path, fault_report: FaultReport
) -> None:
    sd, data = serialized_state_dict(seed=5)
    if where == "local path":
        (tmp_path / name).write_bytes(data)
        location = str(tmp_path / name)
    else:
        server.files[f"/runs/{name}"] = data
        location = server.url(f"/runs/{name}")
    try:
        handled = torch.equal(load_state_dict(_weights(location), progress=False)["weight"], sd["weight"])
        handled = handled and torch.equal(load_state_dict(location, progress=False)["weight"], sd["weight"])
    except IntegrityError as exc:
        handled = False
        print(exc)
    fault_report.record("name that looks like a hash prefix", handled, lost=not handled)
    assert handled


def test_built_in_entries_without_a_full_digest_check_their_hash_prefix(
    server: FileServer, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    from modelver import get_model_weights, list_models
    from modelver.errors import UnknownWeightsError
    from modelver.store._integrity import hash_prefix_of

    enums = []
    for name in list_models():
        try:
            enums.append(get_model_weights(name))
        except UnknownWeightsError:
            continue  # a builder without released weights
    unpinned = [m for enum in enums for m in enum if not m.sha256 and hash_prefix_of(Path(m.url).name)]
    assert unpinned and all(member.check_hash for member in unpinned), [m for m in unpinned if not m.check_hash]
    from modelver.models.resnet import ResNet50_Weights

    _, impostor = serialized_state_dict(seed=6)  # a valid checkpoint, but not the file the name promises
    server.files["/models/resnet50-11ad3fa6.pth"] = impostor
    monkeypatch.setenv("MODELVER_MIRROR", server.base)
    with pytest.raises(IntegrityError, match="starting with 11ad3fa6") as info:
        fetch(ResNet50_Weights.IMAGENET1K_V2, progress=False)
    handled = _kept("resnet50-11ad3fa6.pth") == [] and sha256(impostor) in str(info.value)
    fault_report.record("name that looks like a hash prefix", handled)
    assert handled


# ---- junk responses, without a sha256 to catch them -------------------------------------------

HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in.</body></html>\n"


def _junk_case(case: str, server: FileServer, data: bytes) -> tuple[str, type[Exception], str]:
    """Make ``server`` lie about /w/m.pth as ``case`` says; returns the URL, error and words expected."""
    path = "/w/m.pth"
    if case == "HTML page":
        server.files[path] = HTML
        return server.url(path), IntegrityError, "HTML page, not a checkpoint"
    server.files[path] = data
    if case == "body longer than Content-Length":
        server.content_length[path] = len(data) - 1000
        return server.url(path), IntegrityError, "more bytes than its Content-Length"
    if case == "body shorter than Content-Length":
        server.content_length[path] = len(data) + 1000
        return server.url(path), DownloadError, "run again to resume"
    if case == "no Content-Length, past MODELVER_MAX_DOWNLOAD_SIZE":
        server.content_length[path] = None
        return server.url(path), IntegrityError, "MODELVER_MAX_DOWNLOAD_SIZE"
    if case == "Content-Length past MODELVER_MAX_DOWNLOAD_SIZE":
        return server.url(path), IntegrityError, f"{len(data)} bytes, more than the 100000 bytes"
    raise AssertionError(case)


JUNK = [
    "HTML page",
    "body longer than Content-Length",
    "body shorter than Content-Length",
    "no Content-Length, past MODELVER_MAX_DOWNLOAD_SIZE",
    "Content-Length past MODELVER_MAX_DOWNLOAD_SIZE",
]


@pytest.mark.parametrize("case", JUNK)
def test_junk_is_never_kept_under_a_cache_name(
    case: str, server: FileServer, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    sd, data = serialized_state_dict(size=300)  # ~360 kB
    monkeypatch.setenv("MODELVER_MAX_DOWNLOAD_SIZE", "100KB" if "MAX_DOWNLOAD" in case else "1MB")
    url, error, words = _junk_case(case, server, data)
    with pytest.raises(error) as info:
        load_state_dict(_weights(url), progress=False)
    refused = words in str(info.value) and not cache_path(url).exists()
    partials = [p for p in _kept("m.pth") if p.endswith(".incomplete")]
    clean = partials == [] if error is IntegrityError else len(partials) == 1  # kept only to resume
    server.files["/w/m.pth"], server.content_length = data, {}
    monkeypatch.setenv("MODELVER_MAX_DOWNLOAD_SIZE", "1MB")
    recovered = torch.equal(load_state_dict(_weights(url), progress=False)["weight"], sd["weight"])
    fault_report.record("junk response (no sha256)", refused and clean, lost=not recovered)
    assert refused and clean, (str(info.value), partials)
    assert recovered


@pytest.mark.parametrize("start", [0, 99_999, 100_001], ids=["from 0", "one byte early", "one byte late"])
def test_a_206_with_the_wrong_content_range_is_never_spliced(
    start: int, server: FileServer, fault_report: FaultReport
) -> None:
    sd, data = serialized_state_dict(size=300)
    server.files["/w/r.pth"] = data
    server.drop_after["/w/r.pth"] = 100_000
    weights = _weights(server.url("/w/r.pth"))  # no sha256: only the server's headers to go by
    with pytest.raises(DownloadError):
        fetch(weights, progress=False)
    server.range_start["/w/r.pth"] = start  # asked for bytes=100000-, answers 206 from elsewhere
    path = fetch(weights, progress=False)
    handled = path.read_bytes() == data and server.ranges == ["bytes=100000-"]
    fault_report.record("206 with a wrong Content-Range", handled, lost=path.read_bytes() != data)
    assert handled
    assert torch.equal(load_state_dict(weights, progress=False)["weight"], sd["weight"])


def test_a_download_stops_at_the_size_the_entry_declares(server: FileServer, fault_report: FaultReport) -> None:
    _, data = serialized_state_dict(size=600)  # ~1.4 MB
    server.files["/w/big.pth"] = data
    server.content_length["/w/big.pth"] = None
    declared = _weights(server.url("/w/big.pth"), meta={"_file_size": 0.2})  # MB, as torchvision writes it
    with pytest.raises(IntegrityError, match="meta _file_size") as info:
        fetch(declared, progress=False)
    with pytest.raises(IntegrityError, match=f"past the {len(data) - 1} bytes allowed by the expected size"):
        fetch(server.url("/w/big.pth"), progress=False, size=len(data) - 1)  # a lock's size, per call
    server.content_length = {}
    with pytest.raises(IntegrityError, match=f"Size mismatch .* expected {len(data) + 1} bytes, got {len(data)}"):
        fetch(server.url("/w/big.pth"), progress=False, size=len(data) + 1)
    handled = _kept("big.pth") == [] and "went past the 1268776 bytes" in str(info.value)
    assert fetch(server.url("/w/big.pth"), progress=False, size=len(data), sha256=sha256(data)).exists()
    fault_report.record("junk response (no sha256)", handled)
    assert handled


# ---- locks: a stopped holder, and file systems where locks do not hold -------------------------

DOWNLOAD = """
import sys
from modelver import Weights
from modelver.store import fetch
from modelver.transforms import ImageClassification
fetch(Weights(url=sys.argv[1], sha256=sys.argv[2], transforms=ImageClassification, meta={}), progress=False)
print("ok")
"""


def test_a_stopped_lock_holder_does_not_block_others_forever(
    server: FileServer, isolated_caches: Path, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict(size=500)  # ~1 MB, sent slowly
    server.files["/w/held.pth"] = data
    server.delay_per_chunk = 0.2
    url, env = server.url("/w/held.pth"), subprocess_env(TORCH_HOME=str(isolated_caches / "torch"))
    holder = subprocess.Popen([sys.executable, "-c", DOWNLOAD, url, sha256(data)], env=env)
    try:
        partial = cache_path(url).with_name(f"held.pth.{holder.pid}@{socket.gethostname()}.incomplete")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (partial.exists() and partial.stat().st_size):
            time.sleep(0.05)
        holder.send_signal(signal.SIGSTOP)
        waiter = subprocess.run(
            [sys.executable, "-c", DOWNLOAD, url, sha256(data)], capture_output=True, text=True, timeout=120,
            env={**env, "MODELVER_LOCK_TIMEOUT": "2"},
        )
        lock = cache_path(url).parent / ".locks" / "held.pth.lock"
        last = waiter.stderr.strip().splitlines()[-1] if waiter.stderr.strip() else ""
        handled = (
            waiter.returncode != 0 and "LockTimeoutError" in last and str(lock) in last
            and f"process {holder.pid}" in last and "MODELVER_LOCK_TIMEOUT" in last
        )
    finally:
        holder.kill()
        holder.wait(30)
    server.delay_per_chunk = 0.0
    recovered = fetch(_weights(url, sha256(data)), progress=False).read_bytes() == data
    resumed = len(server.ranges) == 1  # the stopped holder's bytes were taken over
    fault_report.record("lock holder stopped (SIGSTOP)", handled and resumed, lost=not recovered)
    assert handled, waiter.stderr[-2000:]
    assert recovered and resumed


NO_LOCKS = """
import contextlib, sys
from modelver import Weights
from modelver.store import _http, fetch
from modelver.transforms import ImageClassification
_http._locked = lambda path, progress: contextlib.nullcontext()  # as on NFS without working locks
weights = Weights(url=sys.argv[1], sha256=sys.argv[2], transforms=ImageClassification, meta={})
print(fetch(weights, progress=False).read_bytes() == open(sys.argv[3], "rb").read())
"""


def test_where_locks_do_not_hold_two_writers_never_write_one_file(
    server: FileServer, isolated_caches: Path, tmp_path: Path, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict(size=400, seed=7)
    server.files["/w/nfs.pth"] = data
    server.delay_per_chunk = 0.02
    (tmp_path / "expected").write_bytes(data)
    env = subprocess_env(TORCH_HOME=str(isolated_caches / "torch"))
    args = [server.url("/w/nfs.pth"), sha256(data), str(tmp_path / "expected")]
    procs = [
        subprocess.Popen([sys.executable, "-c", NO_LOCKS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    ok = [out.strip() for out, _ in outputs] == ["True"] * 3
    handled = ok and cache_path(server.url("/w/nfs.pth")).read_bytes() == data and _kept("nfs.pth.") == []
    fault_report.record("locks that do not hold (NFS)", handled, lost=not ok)
    assert handled, [err[-3000:] for _, err in outputs if "Error" in err]


# ---- MODELVER_OFFLINE=1 alone: no socket for hf:// entries ------------------------------------

NO_SOCKETS = """
import socket, sys
calls = []
def guard(*args, **kwargs):
    calls.append(repr(args[:2]))
    raise OSError("network call refused by the test")
for owner, name in [(socket.socket, "connect"), (socket.socket, "connect_ex"), (socket, "create_connection"),
                    (socket, "getaddrinfo")]:
    setattr(owner, name, guard)
import modelver
from modelver.store import load_state_dict
for location in sys.argv[1:]:
    if location == "minilm_l6":
        modelver.get_model("minilm_l6", weights="DEFAULT")
    else:
        load_state_dict(location, progress=False)
print("calls:", calls)
"""


@pytest.mark.parametrize("what", ["minilm_l6", "hf:// from the cache"])
def test_offline_hf_entries_open_no_socket(
    what: str, isolated_caches: Path, fault_report: FaultReport
) -> None:
    from conftest import seed_hf_cache
    from safetensors.torch import save

    location = "minilm_l6"
    if what != "minilm_l6":
        revision = "0123456789abcdef0123456789abcdef01234567"
        seed_hf_cache(isolated_caches, "org/offline", revision, {"model.safetensors": save({"w": torch.ones(3)})})
        location = f"hf://org/offline@{revision}/model.safetensors"
    env = subprocess_env(MODELVER_OFFLINE="1", HF_HOME=str(isolated_caches / "hf"),
                         HF_HUB_CACHE=str(isolated_caches / "hf" / "hub"))
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run([sys.executable, "-c", NO_SOCKETS, location], capture_output=True, text=True,
                            timeout=300, env=env)
    handled = result.returncode == 0 and result.stdout.strip().endswith("calls: []")
    fault_report.record("offline, hf:// entry (no socket)", handled)
    assert handled, (result.stdout[-1000:], result.stderr[-2000:])


def test_offline_flag_is_put_back_after_a_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with _settings.hub_offline_flag():
        assert constants.HF_HUB_OFFLINE
    assert constants.HF_HUB_OFFLINE is False
