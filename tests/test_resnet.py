"""resnet50: torchvision's model and releases, loaded through the store; offline failures say what to do."""

from __future__ import annotations

import io
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from conftest import FileServer, sha256
from torchvision.models import ResNet50_Weights as TV_ResNet50_Weights

from modelver import Weights
from modelver.errors import WeightsUnavailableError
from modelver.models.resnet import ResNet50_Weights, resnet50
from modelver.predict import sample_image
from modelver.store import cache_path
from modelver.testing import synthetic_state_dict

SINCE = "since modelver 0.1.0"  # fixed: the deprecation does not move with releases


@pytest.fixture(scope="module")
def checkpoint() -> tuple[dict, bytes]:
    with torch.device("meta"):
        skeleton = torchvision.models.resnet50()
    state_dict = synthetic_state_dict(skeleton, seed=3)
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return state_dict, buffer.getvalue()


def test_served_checkpoint_loads_through_the_builder_and_equals_torchvision(
    checkpoint: tuple[dict, bytes], server: FileServer
) -> None:
    state_dict, data = checkpoint
    digest = sha256(data)
    name = f"resnet50-{digest[:8]}.pth"  # torch.hub's naming: the store checks the prefix too
    server.files[f"/models/{name}"] = data
    weights = Weights(
        url=server.url(f"/models/{name}"),
        sha256=digest,
        transforms=ResNet50_Weights.IMAGENET1K_V2.transforms,
        meta=ResNet50_Weights.IMAGENET1K_V2.meta,
    )
    ours = resnet50(weights=weights, progress=False).eval()
    assert cache_path(weights.url).read_bytes() == data and server.requests[f"/models/{name}"] == 1

    theirs = torchvision.models.resnet50().eval()
    theirs.load_state_dict(state_dict)
    x = torch.randn(2, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = ours(x)
        assert out.shape == (2, 1000) and torch.isfinite(out).all() and out.std() > 0
        assert torch.equal(out, theirs(x))


@pytest.mark.parametrize("name", ["IMAGENET1K_V1", "IMAGENET1K_V2"])
def test_entries_are_torchvisions_release(name: str) -> None:
    ours, theirs = ResNet50_Weights[name], TV_ResNet50_Weights[name]
    assert ours.url == theirs.url
    assert ours.meta["categories"] == theirs.meta["categories"]
    for key in ("num_params", "min_size", "recipe", "_ops", "_file_size"):
        assert ours.meta[key] == theirs.meta[key], key
    assert ours.meta["_metrics"] == theirs.meta["_metrics"]
    assert ResNet50_Weights.DEFAULT is ResNet50_Weights.IMAGENET1K_V2


@pytest.mark.parametrize("name", ["IMAGENET1K_V1", "IMAGENET1K_V2"])
def test_preset_equals_torchvisions(name: str) -> None:
    ours, theirs = ResNet50_Weights[name].transforms(), TV_ResNet50_Weights[name].transforms()
    photo = sample_image("astronaut")
    x = torch.from_numpy(np.array(photo)).permute(2, 0, 1)
    assert torch.equal(ours(x), theirs(x))
    # PIL input: ours converts to a tensor first (the path above); torchvision resizes with PIL.
    assert torch.equal(ours(photo), theirs(x))
    assert ours.resize_size == ResNet50_Weights[name].meta["preprocessing"]["resize_size"]


def test_gflops_and_params_are_what_the_model_computes() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = resnet50()
        x = torch.empty(1, 3, 224, 224)
    with FlopCounterMode(display=False) as counter:
        model(x)
    for weights in ResNet50_Weights:
        assert round(counter.get_total_flops() / 2e9, 3) == weights.meta["_ops"]
        assert sum(p.numel() for p in model.parameters()) == weights.meta["num_params"]


def test_offline_mode_fails_at_once_naming_url_and_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path))
    url = ResNet50_Weights.IMAGENET1K_V2.url
    with pytest.raises(WeightsUnavailableError) as info:
        resnet50(weights="DEFAULT")
    message = str(info.value)
    assert url in message and str(tmp_path / "resnet50-11ad3fa6.pth") in message
    assert "MODELVER_OFFLINE=1 forbids downloading" in message and "copy it to" in message
    assert list(tmp_path.iterdir()) == []


def test_without_network_it_fails_with_the_store_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a machine without internet: the host cannot be reached (here: a closed proxy port)."""
    for var in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "")
    monkeypatch.setattr(urllib.request, "_opener", None)  # urlopen reads the proxy settings anew
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as info:
        resnet50(weights="DEFAULT")
    message = str(info.value)
    assert message.startswith(f"Cannot reach {ResNet50_Weights.IMAGENET1K_V2.url}: ")
    assert f"copy it to {tmp_path / 'resnet50-11ad3fa6.pth'}" in message
    assert not (tmp_path / "resnet50-11ad3fa6.pth").exists()
    assert not (tmp_path / "resnet50-11ad3fa6.pth.incomplete").exists()


def test_pretrained_true_means_v1_with_both_deprecation_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(WeightsUnavailableError, match="resnet50-0676ba61.pth"):  # V1's file, not DEFAULT's
            resnet50(pretrained=True)
    assert [str(w.message) for w in record] == [
        (f"The parameter 'pretrained' is deprecated {SINCE} and may be removed in the future, "
        "please use 'weights' instead."),
        (f"Arguments other than a weight enum or `None` for 'weights' are deprecated {SINCE} and may be removed "
        "in the future. The current behavior is equivalent to passing `weights=ResNet50_Weights.IMAGENET1K_V1`. "
        "You can also use `weights=ResNet50_Weights.DEFAULT` to get the most up-to-date weights."),
    ]


def test_num_classes_is_checked_against_the_weights() -> None:
    with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 1000 but got 10 instead."):
        resnet50(weights=ResNet50_Weights.IMAGENET1K_V1, num_classes=10)
    with torch.device("meta"):
        assert resnet50(num_classes=10).fc.out_features == 10
