"""Extending export from outside: a new format and a new task, each registered from this file alone.

The toy format stores the task's ONNX graph behind its own magic header and runs it with its
own loader; the toy task is a tabular classifier with its own export class and run-time class.
Both go through ``modelver export --list``, ``modelver export`` (with the parity check) and
``modelver run``, in-process, with no other file edited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Optional, Sequence

import numpy as np
import pytest
import torch
from modelver_export import registry
from modelver_export._bundle import META_DIGEST_KEY, check_meta_digest
from modelver_export.formats import Written
from modelver_export.runtime import RunOptions, TaskRuntime, load
from modelver_export.runtime.loaders import Loaded, LoadOptions
from modelver_export.tasks import Case, TaskExporter
from torch import nn

from modelver import Weights, WeightsEnum, _registry
from modelver.cli import main as modelver_main
from modelver.errors import BundleError

MAGIC = b"TOYONNX1"


# --- a toy format: the ONNX graph behind a header, run by its own loader -----------------------------------
def write_toy(task: TaskExporter, meta: Mapping[str, Any], directory: Path, options: dict[str, Any]) -> Written:
    from modelver_export.formats.onnx import onnx_proto

    (directory / "model.toy").write_bytes(MAGIC + onnx_proto(task, dict(meta), options).SerializeToString())
    return Written("model.toy", ["model.toy"], {"method": "the ONNX graph behind a toy header"})


def load_toy(path: Path, options: LoadOptions) -> Loaded:
    import onnxruntime

    data = path.read_bytes()[len(MAGIC) :]
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    props = dict(session.get_modelmeta().custom_metadata_map)
    digest = props.pop(META_DIGEST_KEY)
    meta = {key: json.loads(value) for key, value in props.items()}
    check_meta_digest(meta, digest, str(path))
    return Loaded(meta, lambda feeds, outputs, seed: session.run(list(outputs), dict(feeds)), "toy loader")


@pytest.fixture
def toy_format() -> Iterator[registry.Format]:
    fmt = registry.register_format(
        registry.Format(
            name="toy",
            model_file="model.toy",
            writer=write_toy,
            loader=load_toy,
            sniff=lambda path: path.read_bytes()[: len(MAGIC)] == MAGIC,
            needs="onnx",
        )
    )
    yield fmt
    registry.unregister(format="toy")


def modelver(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    code = modelver_main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out.splitlines()


def test_a_format_registered_here_is_listed_exported_checked_and_run(
    toy_format: registry.Format, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, *rows = modelver(capsys, "export", "--list", "efficientnet_lite0")
    assert header.split() == ["builder", "task", "torchscript", "onnx", "pt2", "triton", "toy"]
    assert rows[0].split() == ["efficientnet_lite0", "image_classification", "yes", "yes", "yes", "yes", "yes"]
    speech = modelver(capsys, "export", "--list", "wavernn")
    assert speech[1].split()[-1] == "no"
    assert speech[-1] == "wavernn (triton, toy): built from the task's ONNX graph, which this task cannot provide (see onnx)"

    modelver(capsys, "export", "efficientnet_lite0", "--format", "toy", "--out", str(tmp_path))
    bundle_dir = tmp_path / "toy"
    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    assert manifest["format"] == "toy" and manifest["model_file"] == "model.toy"
    assert manifest["parity"]["passed"] and len(manifest["parity"]["cases"]) == 4
    assert (bundle_dir / "model.toy").read_bytes().startswith(MAGIC)

    from modelver.predict import sample_image

    photo = tmp_path / "cat.jpg"
    sample_image("chelsea").save(photo)
    first, *top = modelver(capsys, "run", str(bundle_dir), str(photo), "--topk", "2")
    assert "toy bundle on toy loader" in first and len(top) == 2
    assert top[0].split("%", 1)[1].strip() in {"tiger cat", "Egyptian cat", "tabby"}
    assert load(bundle_dir).engine == "toy loader"


# --- a toy task: rows of 4 numbers → probabilities over 3 classes -------------------------------------------
CLASSES = ["low", "mid", "high"]


class RowClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 3)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.linear(rows).softmax(-1)


class Toy_Weights(WeightsEnum):
    V1 = Weights(url="/nonexistent/toy_rows.pth", transforms=lambda: None, meta={"task": "toy_rows", "categories": CLASSES})
    DEFAULT = V1


def toy_rows_model(*, weights: Optional[Toy_Weights] = None, progress: bool = True) -> nn.Module:
    return RowClassifier()


class ToyRowsExporter(TaskExporter):
    task = "toy_rows"
    tolerances: ClassVar[Mapping[str, float]] = {"probabilities": 1e-5}
    score_outputs = ("probabilities",)

    def inputs(self) -> list[dict[str, Any]]:
        return [{"name": "rows", "dtype": "float32", "shape": ["batch", 4], "description": "4 features per row"}]

    def outputs(self) -> list[dict[str, Any]]:
        return [{"name": "probabilities", "dtype": "float32", "shape": ["batch", 3], "description": "over CLASSES"}]

    def task_meta(self) -> dict[str, Any]:
        return {"categories": list(self.weights.meta["categories"])}

    def cases(self) -> list[Case]:
        rng = np.random.default_rng(0)
        return [Case(f"batch of {n}", {"rows": rng.normal(size=(n, 4)).astype(np.float32)}) for n in (1, 5)]

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            return {"probabilities": self.model(torch.from_numpy(inputs["rows"])).numpy()}

    def torch_module(self) -> nn.Module:
        return self.model

    def export_args(self) -> tuple[Any, ...]:
        return (torch.zeros(3, 4),)

    def dynamic_shapes(self) -> Any:
        return {"rows": {0: torch.export.Dim("batch")}}

    def onnx_model(self, opset: int) -> Any:
        from modelver_export._torch_export import export_onnx

        return export_onnx(
            self.model, self.export_args(), input_names=["rows"], output_names=["probabilities"],
            dynamic_shapes=self.dynamic_shapes(), opset=opset,
        )


class ToyRowsRuntime(TaskRuntime):
    task = "toy_rows"

    def check(self, feeds: Mapping[str, np.ndarray]) -> None:
        if not np.isfinite(feeds["rows"]).all():
            raise BundleError("Input 'rows' holds NaN or infinity; the toy task needs finite numbers.")

    def classify_rows(self, rows: Sequence[Sequence[float]]) -> list[str]:
        probs = self.bundle.run(np.asarray(rows, dtype=np.float32))["probabilities"]
        return [self.bundle.categories[i] for i in probs.argmax(-1)]

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        rows = [[float(v) for v in text.split(",")] for text in inputs]
        return [f"{self.head()}:", *(f"  {t} -> {c}" for t, c in zip(inputs, self.classify_rows(rows)))]


@pytest.fixture
def toy_task(registry_snapshot: None) -> Iterator[registry.Task]:
    _registry.register_model("toy_rows_model")(toy_rows_model)
    task = registry.register_task(registry.Task("toy_rows", ToyRowsExporter, ToyRowsRuntime))
    yield task
    registry.unregister(task="toy_rows")


def test_a_task_registered_here_is_listed_exported_checked_and_run(
    toy_task: registry.Task, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _header, row = modelver(capsys, "export", "--list", "toy_rows_model")
    assert row.split() == ["toy_rows_model", "toy_rows", "yes", "yes", "yes", "yes"]

    modelver(capsys, "export", "toy_rows_model", "--format", "onnx,torchscript", "--out", str(tmp_path))
    rows = ["0.5,-1,2,0.1", "3,0,0,-4"]
    expected = [CLASSES[i] for i in RowClassifier()(torch.tensor([[0.5, -1, 2, 0.1], [3, 0, 0, -4]])).argmax(-1)]
    for fmt, extra in (("onnx", ()), ("torchscript", ("--trust",))):
        assert json.loads((tmp_path / fmt / "bundle.json").read_text())["parity"]["passed"]
        head, *lines = modelver(capsys, "run", str(tmp_path / fmt), *rows, *extra)
        assert head.startswith(f"toy_rows_model (Toy_Weights.V1), {fmt} bundle on ")
        assert lines == [f"  {text} -> {label}" for text, label in zip(rows, expected)]

    bundle = load(tmp_path / "onnx")
    assert isinstance(bundle.task_runtime, ToyRowsRuntime)
    assert bundle.classify_rows([[0.5, -1, 2, 0.1]]) == expected[:1]  # the run-time class's method, on the bundle
    with pytest.raises(BundleError, match="holds NaN or infinity"):
        bundle.run(np.full((1, 4), np.nan, np.float32))
