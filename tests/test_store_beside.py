"""Files released beside a weights file (tokenizers, vocabularies), and the fast path when the Hub is unreachable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import sha256
from hf_cache import seed_hf_cache
from http_server import FileServer

from modelver import Weights
from modelver.errors import IntegrityError, SourceError, WeightsUnavailableError
from modelver.store import _sources, fetch, fetch_beside, sibling
from modelver.transforms import ImageClassification

REV = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("hf://org/repo@rev/model.safetensors", "hf://org/repo@rev/tokenizer.json"),
        ("hf://org/repo@rev/sub/model.safetensors", "hf://org/repo@rev/sub/tokenizer.json"),
        ("hf://org/repo/model.safetensors", "hf://org/repo/tokenizer.json"),
        ("pkg://dist/pkg/model/model.safetensors", "pkg://dist/pkg/model/tokenizer.json"),
        ("https://host/a/b/model.pth", "https://host/a/b/tokenizer.json"),
        ("file:///data/model.pth", "file:///data/tokenizer.json"),
        ("/data/model.pth", "/data/tokenizer.json"),
    ],
)
def test_sibling_locations(url: str, expected: str) -> None:
    assert sibling(url, "tokenizer.json") == expected


@pytest.mark.parametrize("name", ["", "../x", "/abs", "a//b"])
def test_sibling_refuses_names_that_leave_the_folder(name: str) -> None:
    with pytest.raises(SourceError):
        sibling("hf://org/repo@rev/model.safetensors", name)


def _weights(url: str, mirrors: tuple[str, ...] = ()) -> Weights:
    return Weights(url=url, transforms=ImageClassification, meta={}, mirrors=mirrors)


def test_fetch_beside_falls_back_through_the_entrys_mirrors(server: FileServer, tmp_path: Path) -> None:
    (tmp_path / "model.pth").write_bytes(b"weights")
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\nhello\n")
    weights = _weights(server.url("/missing/model.pth"), mirrors=(str(tmp_path / "model.pth"),))
    path = fetch_beside(weights, "vocab.txt", sha256=sha256(b"[PAD]\nhello\n"))
    assert path == tmp_path / "vocab.txt"
    assert server.requests["/missing/vocab.txt"] == 1  # the url's sibling was tried first
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        fetch_beside(weights, "vocab.txt", sha256="0" * 64)
    with pytest.raises(WeightsUnavailableError, match="No location of these weights worked"):
        fetch_beside(weights, "merges.txt")


def test_fetch_beside_from_a_pre_seeded_hub_cache(isolated_caches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_hf_cache(isolated_caches / "hf" / "hub", "org/tiny", REV, {"model.safetensors": b"x", "tokenizer.json": b"{}"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = fetch_beside([f"hf://org/tiny@{REV}/model.safetensors"], "tokenizer.json")
    assert path.read_bytes() == b"{}"


def test_unreachable_hub_fails_at_once_and_quietly(
    isolated_caches: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not offline, but nothing listens at the endpoint: no retries, the cache still serves, the error says why."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    monkeypatch.setattr(_sources, "_probes", {})
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    seed_hf_cache(isolated_caches / "hf" / "hub", "org/tiny", REV, {"model.safetensors": b"cached"})
    caplog.set_level(logging.DEBUG)

    assert fetch(f"hf://org/tiny@{REV}/model.safetensors").read_bytes() == b"cached"
    with pytest.raises(WeightsUnavailableError, match=r"the Hub cannot be reached \(127\.0\.0\.1:9: .*refused"):
        fetch(f"hf://org/tiny@{REV}/other.safetensors")
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]


def test_behind_a_proxy_the_probe_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(_sources, "_probes", {})
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert _sources.hub_unreachable() is None
