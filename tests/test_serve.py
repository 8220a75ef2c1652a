"""Serving and batch runs on a real local Ray: two EfficientNet-Lite0 versions behind Ray Serve, and Ray Data.

One Ray instance for the module (``ray.init(num_cpus=2)`` with its own temporary folder,
stopped at the end); the service runs 2 replicas of the model deployment. What it serves is
the Triton model repository ``modelver export --weights IMAGENET1K_V1,lite0-finetuned.pth
--format triton`` writes: version 1 the real weights, version 2 a user's fine-tuned
checkpoint. Every answer is compared with ``modelver_export.runtime`` in this process.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray  # the serve extra, which make setup installs
from conftest import subprocess_env
from modelver_export.runtime import load

from modelver.predict import sample_image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydantic v1-style fields inside Ray Serve

MODEL = "efficientnet_lite0"
REAL, TUNED = "IMAGENET1K_V1", "lite0-finetuned"  # versions 1 and 2
NUMBER = {REAL: "1", TUNED: "2"}
TEXT_MODEL = "minilm_l6"
VICTIM = "lite0_victim"
SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


@pytest.fixture(scope="module")
def bundles(lite0_repo: Path) -> dict[str, Path]:
    """Version name → its folder in the repository (each folder is a bundle of its own)."""
    return {REAL: lite0_repo / MODEL / "1", TUNED: lite0_repo / MODEL / "2"}


@pytest.fixture(scope="module")
def local(bundles: dict[str, Path]) -> dict[str, Any]:
    """Each version loaded in this process: what the service must answer."""
    return {name: load(path) for name, path in bundles.items()}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    sample_image("chelsea").save(folder / "cat.jpg", quality=95)
    sample_image("coffee").resize((300, 200)).save(folder / "coffee.png")
    (folder / "notes.jpg").write_bytes(b"this is not an image")
    return folder


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    """A Ray instance of this module's own (2 CPUs, its own short temp folder), stopped afterwards."""
    if ray.is_initialized():
        pytest.fail("Ray is already running in this process; these tests start and stop their own instance.")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are length-limited
    ray.init(address="local", num_cpus=2, _temp_dir=temp, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        from ray import serve

        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text bundle (MiniLM-L6 sentence embeddings, ONNX), served beside the image model."""
    from modelver_export import export_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # its files come from its installed package
        (result,) = export_model(
            TEXT_MODEL, formats="onnx", out=tmp_path_factory.mktemp("minilm"), check=False, progress=None
        )
    return result.path


@pytest.fixture(scope="module")
def victim(lite0_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Lite0 model directory, served as the model ``lite0_victim``: a test damages it on disk."""
    return Path(shutil.copytree(lite0_repo / MODEL, tmp_path_factory.mktemp("victim") / VICTIM))


@pytest.fixture(scope="module")
def service(ray_instance: Any, lite0_repo: Path, minilm: Path, victim: Path) -> str:
    from modelver_export.serve import deploy

    url, models = deploy([lite0_repo, minilm, victim], replicas=2, port=_free_port(), cpus_per_replica=0.5)
    assert list(models[MODEL].versions) == [REAL, TUNED] and list(models[TEXT_MODEL].versions) == ["ALL_MINILM_L6_V2"]
    return url


def call(url: str, data: bytes | None = None, content_type: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def infer_body(images: np.ndarray, datatype: str = "UINT8", **extra: Any) -> bytes:
    tensor = {"name": "images", "shape": list(images.shape), "datatype": datatype, "data": images.ravel().tolist()}
    return json.dumps({"inputs": [tensor], **extra}).encode()


def probabilities(answer: dict[str, Any]) -> np.ndarray:
    (output,) = answer["outputs"]
    assert (output["name"], output["datatype"]) == ("probabilities", "FP32")
    return np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])


def random_images(seed: int, shape: tuple[int, ...] = (2, 3, 64, 80)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# --- without Ray ---------------------------------------------------------------------------------------------------
def test_modelver_and_the_runtime_never_import_ray(bundles: dict[str, Path], photos: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, modelver, modelver_export, modelver_export.cli, modelver_export.deploy\n"
        "import modelver_export.serve, modelver_export.serve.protocol, modelver_export.batch\n"
        "from modelver.cli import build_parser\n"
        "from modelver_export.runtime import load\n"
        "build_parser()\n"
        f"print(load({str(bundles[REAL])!r}).predict_image({str(photos / 'cat.jpg')!r}, 1))\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    assert "cat" in result.stdout.splitlines()[0]


def test_code_carrying_bundles_need_the_trust_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from modelver.cli import main

    path = tmp_path / "model.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated, and still what this file is
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    assert main(["serve", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--trust" in err and str(path) in err
    assert main(["batch", str(path), str(tmp_path), "--out", str(tmp_path / "rows.csv")]) == 1
    assert ".jsonl" in capsys.readouterr().err  # the output name is checked before anything runs
    for command in (["serve", str(path)], ["batch", str(path), str(tmp_path), "--out", str(tmp_path / "r.jsonl")]):
        assert main([*command, "--trust", "--precision", "bf16"]) == 1  # load's options reach every version
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "torchscript has no BF16 mode" in err, err
    assert not ray.is_initialized()


def test_a_tampered_bundle_is_refused_before_anything_is_deployed(
    bundles: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelver.cli import main

    copy = tmp_path / "2"
    shutil.copytree(bundles[TUNED], copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit in the weights
    (copy / "model.onnx").write_bytes(bytes(data))
    assert main(["serve", str(copy), "--port", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sha256" in err and "model.onnx" in err
    assert not ray.is_initialized()


def test_what_a_service_would_serve(lite0_repo: Path, bundles: dict[str, Path]) -> None:
    from modelver_export.serve import discover

    from modelver.errors import BundleError

    model = discover([lite0_repo])[MODEL]  # a repository: every number, the highest answers by default
    assert (model.labels, model.default) == (["1", "2"], TUNED)
    assert model.version("1") is model.version(REAL) and model.version(None) is model.version("2")
    alone = discover([bundles[REAL] / "model.onnx"])[MODEL]  # a bare ONNX file names its version from its meta
    assert (list(alone.versions), alone.labels) == ([REAL], [REAL])
    with pytest.raises(BundleError, match=r"Version 'IMAGENET1K_V1' of 'efficientnet_lite0' is given twice"):
        discover([lite0_repo, bundles[REAL]])


# --- Ray Serve -----------------------------------------------------------------------------------------------------
def test_metadata_lists_both_versions(service: str, local: dict[str, Any]) -> None:
    assert call(f"{service}/v2/health/ready") == (200, {"ready": True})
    status, meta = call(f"{service}/v2/models/{MODEL}")
    assert status == 200
    assert (meta["name"], meta["versions"], meta["default_version"]) == (MODEL, ["1", "2"], "2")  # as Triton: highest
    assert meta["inputs"] == [{"name": "images", "datatype": "UINT8", "shape": [-1, 3, -1, -1]}]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 1000]}]
    for name in (REAL, TUNED):
        for ref in (name, NUMBER[name]):  # a version answers to its weights entry's name and to its number
            status, version = call(f"{service}/v2/models/{MODEL}/versions/{ref}")
            assert status == 200
            assert (version["version"], version["weights_name"]) == (NUMBER[name], name)
            assert version["weights"] == local[name].meta["weights"]


def test_each_request_is_answered_by_its_version(service: str, local: dict[str, Any], photos: Path) -> None:
    images = random_images(0)
    expected = {name: bundle.run(images)["probabilities"] for name, bundle in local.items()}
    assert not np.allclose(expected[REAL], expected[TUNED], atol=1e-4)  # the two versions really differ
    for name, ref in ((REAL, REAL), (TUNED, "2"), (REAL, "1"), (TUNED, TUNED)):  # by name and by number, back and forth
        status, answer = call(f"{service}/v2/models/{MODEL}/versions/{ref}/infer", infer_body(images, id="r1"))
        assert (status, answer["model_version"], answer["id"]) == (200, NUMBER[name], "r1")
        np.testing.assert_array_equal(probabilities(answer), expected[name])
    status, answer = call(f"{service}/v2/models/{MODEL}/infer", infer_body(images))  # no version: the highest
    assert (status, answer["model_version"]) == (200, "2")
    np.testing.assert_array_equal(probabilities(answer), expected[TUNED])

    jpeg = (photos / "cat.jpg").read_bytes()
    for name in (REAL, TUNED):
        status, answer = call(f"{service}/v2/models/{MODEL}/versions/{name}/predict?topk=3", jpeg, "image/jpeg")
        assert status == 200 and answer["model_version"] == NUMBER[name]
        top = local[name].predict_image(photos / "cat.jpg", 3)
        assert [(p["label"], p["probability"]) for p in answer["predictions"]] == top


def test_a_text_bundle_answers_texts_and_tensors_like_the_local_runtime(service: str, minilm: Path) -> None:
    bundle = load(minilm)
    expected = bundle.embed(SENTENCES)
    status, answer = call(f"{service}/v2/models/{TEXT_MODEL}/predict", json.dumps({"texts": SENTENCES}).encode())
    assert status == 200
    np.testing.assert_allclose(np.asarray(answer["embeddings"], dtype=np.float32), expected, atol=1e-6)
    status, answer = call(f"{service}/v2/models/{TEXT_MODEL}/predict", "\n".join(SENTENCES).encode(), "text/plain")
    assert status == 200 and len(answer["embeddings"]) == 3  # one text a line

    feeds = {k: np.ascontiguousarray(v) for k, v in bundle.tokenizer(SENTENCES).items()}
    tensors = [
        {"name": name, "shape": list(array.shape), "datatype": "INT64", "data": array.ravel().tolist()}
        for name, array in feeds.items()
    ]
    status, answer = call(f"{service}/v2/models/{TEXT_MODEL}/infer", json.dumps({"inputs": tensors}).encode())
    assert status == 200
    (output,) = answer["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("embeddings", "FP32", [3, 384])
    np.testing.assert_array_equal(np.asarray(output["data"], dtype=np.float32).reshape(3, 384), bundle.run(feeds)["embeddings"])

    for body in (b'{"texts": []}', b'{"texts": [""]}', b'{"texts": "not a list"}'):
        status, error = call(f"{service}/v2/models/{TEXT_MODEL}/predict", body)
        assert status == 400 and "texts" in error["error"], (body, error)
    status, _ = call(f"{service}/v2/models/{TEXT_MODEL}/predict", json.dumps({"texts": SENTENCES[:1]}).encode())
    assert status == 200  # still serving


def test_a_version_damaged_on_disk_after_deploy_gets_503_and_the_rest_keeps_serving(
    service: str, victim: Path, local: dict[str, Any]
) -> None:
    model_file = victim / "1" / "model.onnx"
    model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])  # a half-copied file
    images = random_images(3)
    status, error = call(f"{service}/v2/models/{VICTIM}/versions/1/infer", infer_body(images))
    assert status == 503 and error["error"].startswith(f"{VICTIM}/{REAL} cannot be loaded") and "truncated" in error["error"]
    status, answer = call(f"{service}/v2/models/{VICTIM}/versions/2/infer", infer_body(images))
    assert status == 200  # its other version, from the same directory
    np.testing.assert_array_equal(probabilities(answer), local[TUNED].run(images)["probabilities"])
    status, answer = call(f"{service}/v2/models/{MODEL}/versions/1/infer", infer_body(images))
    assert status == 200  # and every other model


BAD_REQUESTS = [
    # (route after /v2/models/, body, status, words of the error)
    ("nosuchmodel/infer", None, 404, ["Unknown model 'nosuchmodel'"]),
    (f"{MODEL}/versions/IMAGENET1K_V9/infer", None, 404, ["Unknown version 'IMAGENET1K_V9'", "['1', '2']"]),
    (f"{MODEL}/versions/3/infer", None, 404, ["Unknown version '3'"]),
    (f"{MODEL}/infer", b"{not json", 400, ["not JSON"]),
    (f"{MODEL}/infer", b'{"inputs": []}', 400, ["'inputs'"]),
    (f"{MODEL}/infer", "FP32", 400, ["datatype 'FP32'", "UINT8"]),
    (f"{MODEL}/infer", "rank", 400, ["4 dimensions"]),
    (f"{MODEL}/infer", "count", 400, ["has 12 values", "needs 24"]),
    (f"{MODEL}/infer", "name", 400, ["Unknown input 'pixels'"]),
    (f"{MODEL}/predict", b"GIF89a but not really", 400, ["not an image"]),
    (f"{MODEL}/nonsense", None, 404, ["No route"]),
]


def _bad_body(kind: Any) -> bytes | None:
    tiny = random_images(1, (1, 3, 2, 4))
    if kind == "FP32":
        return infer_body(tiny.astype(np.float32), "FP32")
    if kind == "rank":
        return json.dumps(
            {"inputs": [{"name": "images", "shape": [3, 2, 4], "datatype": "UINT8", "data": [1] * 24}]}
        ).encode()
    if kind == "count":
        return json.dumps(
            {"inputs": [{"name": "images", "shape": [1, 3, 2, 4], "datatype": "UINT8", "data": [1] * 12}]}
        ).encode()
    if kind == "name":
        return infer_body(tiny).replace(b'"images"', b'"pixels"')
    return kind if kind is not None else infer_body(tiny)


@pytest.mark.parametrize(
    "route, body, status, words", BAD_REQUESTS, ids=[f"{r[2]}-{i}" for i, r in enumerate(BAD_REQUESTS)]
)
def test_bad_requests_get_v2_errors_and_the_service_keeps_serving(
    service: str, local: dict[str, Any], route: str, body: Any, status: int, words: list[str]
) -> None:
    got, answer = call(
        f"{service}/v2/models/{route}", _bad_body(body), "image/jpeg" if "predict" in route else "application/json"
    )
    assert got == status, answer
    assert set(answer) == {"error"} and "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert all(word in answer["error"] for word in words), answer["error"]
    images = random_images(2, (1, 3, 40, 40))
    got, answer = call(f"{service}/v2/models/{MODEL}/infer", infer_body(images))
    assert got == 200
    np.testing.assert_array_equal(probabilities(answer), local[TUNED].run(images)["probabilities"])


def test_wrong_method_is_405(service: str) -> None:
    assert call(f"{service}/v2/models/{MODEL}/infer")[0] == 405  # GET on infer


def _replicas() -> set[str]:
    from ray.util import list_named_actors

    return {a["name"] for a in list_named_actors(all_namespaces=True) if "#Models#" in a["name"]}


def _running_replicas() -> int:
    from ray import serve

    states = serve.status().applications["modelver"].deployments["Models"].replica_states
    return int(states.get("RUNNING", 0))


def test_burst_on_two_replicas_loses_no_request(service: str, local: dict[str, Any]) -> None:
    assert _running_replicas() == 2
    cases = [(i, (REAL, TUNED)[i % 2], random_images(100 + i, (1, 3, 48, 56))) for i in range(24)]

    def send(case: tuple[int, str, np.ndarray]) -> tuple[int, str, np.ndarray]:
        i, name, images = case
        status, answer = call(f"{service}/v2/models/{MODEL}/versions/{name}/infer", infer_body(images, id=str(i)))
        assert status == 200, answer
        return int(answer["id"]), answer["model_version"], probabilities(answer)

    with ThreadPoolExecutor(8) as pool:  # a bounded burst: 8 in flight, 24 in all
        answers = list(pool.map(send, cases))
    assert len(answers) == len(cases)
    for (i, name, images), (got_id, got_version, got) in zip(cases, answers):
        assert (got_id, got_version) == (i, NUMBER[name])
        np.testing.assert_array_equal(got, local[name].run(images)["probabilities"])


def test_a_killed_replica_is_replaced_while_requests_keep_succeeding(service: str, local: dict[str, Any]) -> None:
    images = random_images(3, (1, 3, 32, 32))
    expected = {name: local[name].run(images)["probabilities"] for name in (REAL, TUNED)}
    before = _replicas()
    assert len(before) == 2
    results: list[tuple[int, str, Any]] = []
    stop = threading.Event()

    def traffic() -> None:
        i = 0
        while not stop.is_set():
            name = (REAL, TUNED)[i % 2]
            status, answer = call(f"{service}/v2/models/{MODEL}/versions/{name}/infer", infer_body(images))
            results.append((status, name, answer))
            i += 1

    senders = [threading.Thread(target=traffic) for _ in range(2)]
    for thread in senders:
        thread.start()
    try:
        time.sleep(1.0)
        victim = min(before)
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed_at = len(results)
        deadline = time.monotonic() + 90
        replaced = False
        while time.monotonic() < deadline and not replaced:
            time.sleep(0.5)
            now = _replicas()
            replaced = victim not in now and len(now - before) == 1 and len(now) == 2 and _running_replicas() == 2
        time.sleep(1.0)  # traffic reaches the new replica too
    finally:
        stop.set()
        for thread in senders:
            thread.join(timeout=60)
    after = _replicas()
    assert victim not in after and len(after) == 2 and len(after - before) == 1  # one new replica
    assert len(results) > killed_at > 0
    failed = [(status, answer) for status, _, answer in results if status != 200]
    assert not failed, failed[:3]
    for _, name, answer in results:
        np.testing.assert_array_equal(probabilities(answer), expected[name])


# --- Ray Data ------------------------------------------------------------------------------------------------------
BATCHES = [
    # (output file, which bundle: a version folder, or the model directory with --version; version in the rows)
    pytest.param(".jsonl", TUNED, [], TUNED, id="jsonl-version-folder"),
    pytest.param(".parquet", None, ["--version", "1"], "1", id="parquet-model-directory"),
]


@pytest.mark.parametrize("suffix, folder, options, version", BATCHES)
def test_batch_rows_equal_modelver_run(
    ray_instance: Any,
    lite0_repo: Path,
    bundles: dict[str, Path],
    photos: Path,
    tmp_path: Path,
    suffix: str,
    folder: str | None,
    options: list[str],
    version: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from modelver.cli import main

    source = bundles[folder] if folder else lite0_repo / MODEL
    reference = bundles[folder or REAL]
    out = tmp_path / f"rows{suffix}"
    missing = tmp_path / "missing.jpg"
    argv = ["batch", str(source), str(photos), str(missing), "--out", str(out), *options]
    code = main([*argv, "--concurrency", "2", "--batch-size", "1", "--cpus-per-worker", "0.5", "--topk", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    skipped = [line for line in captured.err.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 2 and str(missing) in skipped[0] and "notes.jpg" in skipped[1]
    assert f"2 row(s) of version {version} in {out}" in captured.out
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(out).to_pylist()
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [Path(r["input"]).name for r in rows] == ["cat.jpg", "coffee.png"]  # input order, one row each
    bundle = load(reference)
    for row in rows:
        assert row["version"] == version
        assert list(zip(row["labels"], row["probabilities"])) == bundle.predict_image(row["input"], 3)
        assert main(["run", str(reference), row["input"], "--topk", "3"]) == 0
        head, *lines = capsys.readouterr().out.strip().splitlines()
        assert head.endswith(f"{row['input']}:")
        assert lines == [f"  {p:7.2%}  {label}" for label, p in zip(row["labels"], row["probabilities"])]


def test_batch_over_text_files_gives_one_embedding_row_per_line(
    ray_instance: Any, minilm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelver.cli import main

    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("\n".join(SENTENCES[:2]) + "\n\n")  # a blank line is no input
    second.write_text(SENTENCES[2] + "\n")
    out = tmp_path / "rows.jsonl"
    code = main(["batch", str(minilm), str(first), str(second), "--out", str(out), "--cpus-per-worker", "0.5"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["input"] for row in rows] == SENTENCES  # input order, one row a sentence
    expected = load(minilm).embed(SENTENCES)
    np.testing.assert_allclose(np.asarray([row["embedding"] for row in rows], dtype=np.float32), expected, atol=1e-6)


def test_batch_skips_everything_unreadable_with_one_error(
    ray_instance: Any, bundles: dict[str, Path], photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelver.cli import main

    out = tmp_path / "rows.jsonl"
    assert (
        main(["batch", str(bundles[REAL]), str(photos / "notes.jpg"), "--out", str(out), "--cpus-per-worker", "0.5"])
        == 1
    )
    err = capsys.readouterr().err
    assert "notes.jpg" in err and err.strip().splitlines()[-1].startswith("modelver: error: No input could be run")
    assert not out.exists() and not list(tmp_path.glob("rows.jsonl*"))
