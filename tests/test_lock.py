"""Weights lock files: `modelver lock`, `--check`, `--upgrade`, `use_lock` and `MODELVER_LOCK`.

The builders come from tests/lock_models.py, whose release (where ``DEFAULT`` points) and
code (a constant of the forward) are chosen by environment variables, so two processes
see two releases of the same library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
import torch
from conftest import ROOT, seed_hf_cache, sha256, subprocess_env

import modelver
from modelver import _registry
from modelver.cli import main
from modelver.errors import IntegrityError, LockError, WeightsUnavailableError
from modelver.lockfile import _format

TESTS = Path(__file__).resolve().parent
COMMIT_1 = "1" * 40
COMMIT_2 = "2" * 40


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("locktest")
    os.environ["LOCKTEST_DIR"] = str(folder)  # read by lock_models at import, here and in subprocesses
    import lock_models

    assert lock_models.DIR == folder, "lock_models was imported before its files were made"
    for name in lock_models.BUILDERS:  # registered by the import; only the `tiny` fixture lends them out
        _registry._BUILDERS.pop(name, None)
    lock_models.write_files(folder)
    return folder


@pytest.fixture
def tiny(tiny_dir: Path) -> Iterator[Any]:
    """lock_models, its builders registered for this test only (list_models() stays the zoo's elsewhere)."""
    import lock_models

    _registry._BUILDERS.update(lock_models.BUILDERS)
    yield lock_models
    for name in lock_models.BUILDERS:
        _registry._BUILDERS.pop(name, None)


def loaded(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> bool:
    actual = model.state_dict()
    return actual.keys() == expected.keys() and all(torch.equal(actual[k], v) for k, v in expected.items())


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    extra = {"PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)]), **env}
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=subprocess_env(**extra), timeout=300)


LOCK_RELEASE_1 = """
import sys, lock_models
from modelver.cli import main
assert lock_models.TinyNet_Weights.DEFAULT is lock_models.TinyNet_Weights.V1
sys.exit(main(["lock", "lock_tinynet", "--file", sys.argv[1] if len(sys.argv) > 1 else {path!r}]))
"""

RELEASE_2_UNDER_LOCK = """
import contextlib, io, json, shutil, sys
import torch, modelver, lock_models
from modelver.cli import main
from lock_models import TinyNet_Weights as W, lock_tinynet, state_dict
assert W.DEFAULT is W.V2  # this process is the newer release

def same(model, seed):
    return all(torch.equal(model.state_dict()[k], v) for k, v in state_dict(seed).items())

def cli(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return [code, out.getvalue()]

out = {{
    "default_string": same(lock_tinynet(weights="DEFAULT"), 1),
    "by_name": same(lock_tinynet(weights="V1"), 1),
    "by_member": same(lock_tinynet(weights=W.V1), 1),
    "get_model": same(modelver.get_model("lock_tinynet", weights="DEFAULT"), 1),
    "hub_builder": same(torch.hub.load({root!r}, "lock_tinynet", source="local", weights="DEFAULT"), 1),
    "hub_get_weight": repr(torch.hub.load({root!r}, "get_weight", source="local", weights="TinyNet_Weights.DEFAULT")),
}}
try:
    lock_tinynet(weights=W.DEFAULT)
    out["alias"] = "loaded"
except modelver.LockError as exc:
    out["alias"] = str(exc)
with modelver.use_lock(None):  # without the lock, this release's DEFAULT loads
    out["unlocked_default"] = same(lock_tinynet(weights="DEFAULT"), 2)
out["check"] = cli("lock", "--check", "--file", {path!r})
shutil.copy({path!r}, {upgraded!r})
out["upgrade"] = cli("lock", "--upgrade", "--file", {upgraded!r})
print(json.dumps(out))
"""


def test_a_moved_default_keeps_loading_the_pinned_entry(tiny_dir: Path, tmp_path: Path) -> None:
    path, upgraded = tmp_path / "modelver.lock", tmp_path / "upgraded.lock"
    first = run_python(LOCK_RELEASE_1.format(path=str(path)))
    assert first.returncode == 0, first.stderr
    assert "lock_tinynet: pinned TinyNet_Weights.V1" in first.stdout
    pin = tomllib.loads(path.read_text())["builders"]["lock_tinynet"]
    assert (pin["entry"], pin["default"]) == ("TinyNet_Weights.V1", "V1")
    assert pin["sha256"] == _format.read(path).pins["lock_tinynet"].sha256 and len(pin["sha256"]) == 64
    assert pin["size"] == (tiny_dir / "v1.safetensors").stat().st_size  # the entry knew no digest: now pinned

    second = run_python(
        RELEASE_2_UNDER_LOCK.format(path=str(path), upgraded=str(upgraded), root=str(ROOT)),
        LOCKTEST_RELEASE="2",
        MODELVER_LOCK=str(path),
    )
    assert second.returncode == 0, second.stderr
    out = json.loads(second.stdout.splitlines()[-1])
    for way in ("default_string", "by_name", "by_member", "get_model", "hub_builder"):
        assert out[way] is True, way
    assert out["hub_get_weight"] == "TinyNet_Weights.V1"
    assert out["unlocked_default"] is True
    message = out["alias"]
    assert "TinyNet_Weights.V2 (today's DEFAULT)" in message and "it pins TinyNet_Weights.V1" in message
    assert f"modelver lock --upgrade lock_tinynet --file {path}" in message

    code, text = out["check"]
    assert code == 0, text
    assert "lock_tinynet: ok (TinyNet_Weights.V1)" in text
    assert "news: DEFAULT is now V2 (V1 when locked); the pin holds." in text

    code, text = out["upgrade"]
    assert code == 0
    lines = text.splitlines()
    assert lines[:5] == [
        "lock_tinynet: TinyNet_Weights.V1 -> TinyNet_Weights.V2",
        "  metrics: Synthetic acc@1 50.0 -> 60.0",
        (f"  file: {tiny_dir / 'v1.safetensors'} sha256 {pin['sha256'][:12]}… ({pin['size']} bytes) -> "
        f"{tiny_dir / 'v2.safetensors'} sha256 {_format.read(upgraded).pins['lock_tinynet'].sha256[:12]}… "
        f"({(tiny_dir / 'v2.safetensors').stat().st_size} bytes)"),
        "  fingerprint: unchanged",  # same code, same architecture: only the file differs
        f"wrote {upgraded}",
    ]
    assert _format.read(upgraded).pins["lock_tinynet"].default == "V2"


@pytest.fixture
def v2_file(tiny_dir: Path) -> Iterator[Path]:
    """The V2 file, restored after a test that tampers with it."""
    path = tiny_dir / "v2.safetensors"
    original = path.read_bytes()
    yield path
    path.write_bytes(original)


def test_a_file_whose_bytes_change_fails_the_load_and_the_check(
    tiny: Any, v2_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "modelver.lock"
    result = modelver.write_lock(path, ["lock_tinynet=V2"])
    assert result.lines[0].startswith("lock_tinynet: pinned TinyNet_Weights.V2 ")
    with modelver.use_lock(path), pytest.warns(UserWarning) as warned:
        model = tiny.lock_tinynet(pretrained=True)  # legacy True means V1, but the lock pins V2
    assert "equivalent to passing `weights=TinyNet_Weights.V2`" in str(warned[-1].message)
    assert loaded(model, tiny.state_dict(2))

    data = bytearray(v2_file.read_bytes())
    data[-1] ^= 0xFF  # a tensor value changes; the file still parses
    v2_file.write_bytes(bytes(data))
    assert loaded(tiny.lock_tinynet(weights="V2"), tiny.state_dict(2)) is False  # unlocked, nothing knows better
    with modelver.use_lock(path), pytest.raises(IntegrityError) as failure:
        tiny.lock_tinynet(weights="DEFAULT")
    assert f"{path} pins TinyNet_Weights.V2 to sha256 {_format.read(path).pins['lock_tinynet'].sha256}" in str(failure.value)

    report = modelver.check_lock(path)
    assert not report.ok
    assert report.lines[0] == "lock_tinynet: FAILED (TinyNet_Weights.V2)"
    assert report.lines[1].startswith("  file: not the locked one: sha256 mismatch")
    assert main(["lock", "--check", "--file", str(path)]) == 1
    assert "lock_tinynet: FAILED" in capsys.readouterr().out
    with pytest.raises(LockError, match=r"the pin of lock_tinynet \(TinyNet_Weights.V2\) no longer holds: file: sha256"):
        modelver.write_lock(path, ["lock_tinynet"])  # re-locking never silently accepts the new bytes


def test_a_code_change_that_alters_the_fingerprint_fails_the_check(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "modelver.lock"
    modelver.write_lock(path, ["lock_tinynet"])
    assert main(["lock", "--check", "--file", str(path)]) == 0
    capsys.readouterr()

    monkeypatch.setattr(tiny, "SCALE", 2.0)  # the forward now computes something else with the same weights
    assert main(["lock", "--check", "--file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "lock_tinynet: FAILED (TinyNet_Weights.V1)" in out
    assert "  fingerprint: today's code computes something else with these weights (logits" in out
    result = modelver.write_lock(path, ["lock_tinynet=V1"])  # re-pinning on purpose records the new outputs
    assert "  fingerprint: changed (logits" in str(result)
    assert modelver.check_lock(path).ok


def test_an_unpinned_hf_entry_is_locked_to_the_commit_it_resolved_to(
    tiny: Any, isolated_caches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    old = seed_hf_cache(isolated_caches, tiny.HF_REPO, COMMIT_1, {"model.safetensors": tiny.file_bytes(1)})
    path = tmp_path / "modelver.lock"
    modelver.write_lock(path, ["lock_tinynet_hf"])
    pin = _format.read(path).pins["lock_tinynet_hf"]
    assert dict(pin.commits) == {f"hf://{tiny.HF_REPO}/model.safetensors": COMMIT_1}

    seed_hf_cache(isolated_caches, tiny.HF_REPO, COMMIT_2, {"model.safetensors": tiny.file_bytes(2)})  # main moved
    assert loaded(tiny.lock_tinynet_hf(weights="DEFAULT"), tiny.state_dict(2))
    with modelver.use_lock(path):
        assert loaded(tiny.lock_tinynet_hf(weights="DEFAULT"), tiny.state_dict(1))
    report = modelver.check_lock(path)
    assert report.ok and report.pins[0].news == [
        (f"hf://{tiny.HF_REPO}/model.safetensors now resolves to commit {COMMIT_2} (locked {COMMIT_1}); "
        f"the lock keeps reading {COMMIT_1}")
    ]

    for link in old.iterdir():  # the locked commit is gone from the cache: the lock never falls back to main
        link.unlink()
    with modelver.use_lock(path), pytest.raises(WeightsUnavailableError, match=f"@{COMMIT_1}/model.safetensors"):
        tiny.lock_tinynet_hf(weights="DEFAULT")


def _word_tokenizer(words: list[str]) -> bytes:
    """A tokenizer.json whose ids are the order of ``words`` ([PAD] is 0, [UNK] 1)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["[PAD]", "[UNK]", *words])}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer.to_str().encode()


def test_the_tokenizer_beside_pinned_weights_is_read_at_the_pinned_commit(
    tiny: Any, isolated_caches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text release moves its weights and tokenizer together: under the lock, both stay at the locked commit."""
    from modelver.models.text.tokenizer import tokenizer_beside

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    first = {"model.safetensors": tiny.file_bytes(1), "tokenizer.json": _word_tokenizer(["hello", "world"])}
    seed_hf_cache(isolated_caches, tiny.HF_REPO, COMMIT_1, first)
    path = tmp_path / "modelver.lock"
    modelver.write_lock(path, ["lock_tinynet_hf"])
    moved = {"model.safetensors": tiny.file_bytes(2), "tokenizer.json": _word_tokenizer(["world", "hello"])}
    seed_hf_cache(isolated_caches, tiny.HF_REPO, COMMIT_2, moved)  # main moved: new weights, new vocabulary

    location = f"hf://{tiny.HF_REPO}/model.safetensors"  # what the entry's transforms would name

    def ids() -> list[int]:
        return tokenizer_beside((location,), max_length=8, pad_token="[PAD]")("hello")["input_ids"].tolist()

    assert ids() == [[3]]  # no lock: the branch as it is now
    with modelver.use_lock(path):
        assert ids() == [[2]]  # the vocabulary released with the locked weights
    monkeypatch.setenv("MODELVER_LOCK", str(path))
    assert ids() == [[2]]


def test_locking_the_packaged_weights_works_offline_and_rewrites_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    path = tmp_path / "modelver.lock"
    result = modelver.write_lock(path, ["minilm_l6", "efficientnet_lite0"])
    assert result.changed
    pins = _format.read(path).pins
    assert list(pins) == ["efficientnet_lite0", "minilm_l6"]  # stable order, whatever the request order
    assert pins["efficientnet_lite0"].sha256 == modelver.models.EfficientNet_Lite0_Weights.IMAGENET1K_V1.sha256
    minilm = pins["minilm_l6"]
    assert minilm.sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert dict(minilm.commits) == {minilm.url: "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"}
    assert minilm.fingerprint is not None and minilm.locked_with == f"modelver {modelver.__version__}"

    before = path.read_bytes()
    again = modelver.write_lock(path)  # no names: every pin in the file, re-checked and kept
    assert not again.changed and again.lines == ["efficientnet_lite0: unchanged (EfficientNet_Lite0_Weights.IMAGENET1K_V1)",
                                                 "minilm_l6: unchanged (MiniLM_L6_Weights.ALL_MINILM_L6_V2)"]
    assert path.read_bytes() == before
    assert _format.dumps(_format.read(path).pins).encode() == before  # the format round-trips exactly
    assert modelver.check_lock(path).ok


def test_a_pin_holds_for_its_enum_in_every_builder_and_one_enum_has_one_pin(
    tiny: Any, tmp_path: Path, isolated_caches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "modelver.lock"
    modelver.write_lock(path, ["lock_tinynet=V2"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    seed_hf_cache(isolated_caches, tiny.HF_REPO, COMMIT_1, {"model.safetensors": tiny.file_bytes(3)})
    with modelver.use_lock(path):
        assert loaded(tiny.lock_tinynet_wide(weights="DEFAULT"), tiny.state_dict(2))  # DEFAULT is V1 in this release
        with pytest.raises(LockError, match="TinyNet_Weights.V1 .today's DEFAULT. is not what .* pins for lock_tinynet"):
            tiny.lock_tinynet_wide(weights=tiny.TinyNet_Weights.V1)
        assert loaded(tiny.lock_tinynet_hf(weights="DEFAULT"), tiny.state_dict(3))  # an enum no pin names: as usual
    before = path.read_bytes()
    with pytest.raises(LockError, match="lock_tinynet and lock_tinynet_wide share the weights enum TinyNet_Weights"):
        modelver.write_lock(path, ["lock_tinynet_wide=V1"])
    assert path.read_bytes() == before


def test_removing_a_pin_lets_that_builder_load_as_usual_and_keeps_the_others(
    tiny: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "modelver.lock"
    modelver.write_lock(path, ["lock_tinynet=V2", "efficientnet_lite0"])  # V2 on purpose: today's DEFAULT is V1
    with modelver.use_lock(path):
        assert loaded(tiny.lock_tinynet(weights="DEFAULT"), tiny.state_dict(2))
    kept = _format.read(path).pins["efficientnet_lite0"]

    assert main(["lock", "--remove", "lock_tinynet", "--file", str(path)]) == 0
    assert "lock_tinynet: removed (TinyNet_Weights.V2)" in capsys.readouterr().out
    assert dict(_format.read(path).pins) == {"efficientnet_lite0": kept}  # the other pin, byte for byte
    with modelver.use_lock(path):
        assert loaded(tiny.lock_tinynet(weights="DEFAULT"), tiny.state_dict(1))  # today's DEFAULT again

    before = path.read_bytes()
    assert main(["lock", "--remove", "lock_tinynet", "efficientnet_lite0", "--file", str(path)]) == 1
    err = capsys.readouterr().err
    assert "pins no lock_tinynet; it pins efficientnet_lite0. Nothing was removed." in err and err.count("\n") == 1
    assert path.read_bytes() == before
    assert main(["lock", "--remove", "efficientnet_lite0", "--file", str(path)]) == 0
    assert _format.read(path).pins == {} and modelver.check_lock(path).ok  # an empty lock is still a lock


def test_the_writer_escapes_what_toml_needs() -> None:
    odd = 'a "quoted" \\ back\tslash\x7f é \U0001f600'
    pin = _format.Pin(
        builder="odd-name.x", entry="X_Weights.A", default="A", url=odd, mirrors=(odd, "b"), sha256="0" * 64,
        size=3, commits={odd: "c" * 40}, fingerprint={"out.put": {"shape": [2], "stats": {"mean": 1e-05}, "values": [-0.0, 3.5]}},
        locked_with="modelver x",
    )
    data = tomllib.loads(_format.dumps({pin.builder: pin}))
    table = data["builders"]["odd-name.x"]
    assert table["url"] == odd and table["mirrors"] == [odd, "b"] and table["commits"] == {odd: "c" * 40}
    assert table["fingerprint"] == {"out.put": {"shape": [2], "stats": {"mean": 1e-05}, "values": [-0.0, 3.5]}}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lock", "no_such_model"], "Unknown model 'no_such_model'"),
        (["lock", "efficientnet_lite0=V9"], "Unknown weights 'V9' for EfficientNet_Lite0_Weights"),
        (["lock", "minilm_l6_classifier"], "'minilm_l6_classifier' has no released weights (MiniLM_L6_Classifier_Weights is empty): there is nothing"),
        (["lock", "--upgrade", "efficientnet_lite0=IMAGENET1K_V1"], "give builder names without =ENTRY"),
        (["lock"], "nothing to lock. Name builders"),
        (["lock", "--check"], "no such lock file. Write one with `modelver lock NAME ... --file"),
        (["lock", "--remove", "resnet50"], "no such lock file; there is nothing to remove"),
        (["lock", "--remove"], "--remove needs builder names"),
    ],
)
def test_bad_requests_get_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("modelver: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "modelver.lock").exists()


def test_a_malformed_or_missing_lock_file_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "modelver.lock"
    path.write_text('version = 1\n[builders.resnet50]\nentry = "ResNet50_Weights.IMAGENET1K_V1"\nsha256 = "abc"\n')
    with pytest.raises(LockError, match=r"\[builders.resnet50\].sha256 must be 64 lowercase hex digits, got 'abc'"):
        modelver.use_lock(path).__enter__()
    path.write_text("version = 1\n[builders\n")
    with pytest.raises(LockError, match="not valid TOML"):
        modelver.check_lock(path)
    monkeypatch.setenv("MODELVER_LOCK", str(tmp_path / "missing.lock"))
    with pytest.raises(LockError, match="MODELVER_LOCK=.*missing.lock: no such lock file"):
        modelver.get_weight("ResNet50_Weights.DEFAULT")  # loud at the first resolution, never ignored
    with modelver.use_lock(None):
        assert modelver.get_weight("ResNet50_Weights.DEFAULT").name == "IMAGENET1K_V2"


def test_export_records_the_exact_weights_and_exports_the_pinned_entry_under_a_lock(tiny: Any, tmp_path: Path) -> None:
    from modelver_export import export_model
    from modelver_export._bundle import read_manifest

    path = tmp_path / "modelver.lock"
    modelver.write_lock(path, ["lock_tinynet=V2"])  # DEFAULT is V1 in this release
    pin = _format.read(path).pins["lock_tinynet"]
    with modelver.use_lock(path):
        (locked,) = export_model("lock_tinynet", formats="torchscript", out=tmp_path / "a", check=False, progress=None)
    manifest = read_manifest(locked.path)
    assert manifest["weights"] == "TinyNet_Weights.V2"
    assert manifest["weights_source"] == {
        "entry": "TinyNet_Weights.V2", "sha256": pin.sha256, "size": pin.size, "verified": True,
        "lock": f"lock_tinynet = TinyNet_Weights.V2 sha256:{pin.sha256} ({pin.size} bytes)", "lock_file": str(path),
    }
    images = torch.randint(0, 256, (2, 3, 48, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        log_probs = torch.jit.load(str(locked.path / manifest["model_file"]))(images).log()

    def eager(entry: str) -> torch.Tensor:
        weights = tiny.TinyNet_Weights[entry]
        return tiny.lock_tinynet(weights=weights).eval()(weights.transforms()(images)).log_softmax(-1).detach()

    assert torch.allclose(log_probs, eager("V2"), atol=1e-4)  # the bundle computes with the pinned file
    assert not torch.allclose(log_probs, eager("V1"), atol=0.1)

    (free,) = export_model("lock_tinynet", formats="torchscript", out=tmp_path / "b", check=False, progress=None)
    v1 = (tiny.DIR / "v1.safetensors").read_bytes()
    assert read_manifest(free.path)["weights_source"] == {
        "entry": "TinyNet_Weights.V1", "sha256": sha256(v1), "size": len(v1), "verified": True,
        "lock": None, "lock_file": None,  # no lock: the file the build loaded, hashed
    }
    given = tiny.lock_tinynet(weights="V2")  # built by the caller: the exporter cannot tell from which file
    (unverified,) = export_model("lock_tinynet", weights="V2", model=given, formats="torchscript", out=tmp_path / "d",
                                 check=False, progress=None)
    assert read_manifest(unverified.path)["weights_source"] == {
        "entry": "TinyNet_Weights.V2", "sha256": None, "size": None, "verified": False, "lock": None, "lock_file": None,
    }
    with modelver.use_lock(path), pytest.raises(LockError, match="it pins TinyNet_Weights.V2"):
        export_model("lock_tinynet", weights="V1", formats="torchscript", out=tmp_path / "c", check=False, progress=None)
    assert not (tmp_path / "c").exists()
