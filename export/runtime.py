"""Run any modelver bundle: ONNX on onnxruntime with numpy only, TorchScript and ``.pt2`` on torch.

This module imports no torch and no modelver model code (only ``modelver.errors``, and
``modelver.predict`` to name detections), so a deployment that ships an ONNX bundle needs
numpy, onnxruntime and Pillow, nothing else::

    from modelver_export.runtime import load

    bundle = load("bundles/efficientnet_lite0/onnx")    # a bundle directory, or model.onnx / .pt / .pt2
    bundle.predict_image("cat.jpg", topk=5)              # [("tiger cat", 0.61), ...]
    load("bundles/frcnn/onnx").predict_image("street.jpg")  # [Detection("person", 0.98, (x1, y1, x2, y2)), ...]
    bundle.run({"images": uint8_array})                  # {"probabilities": array}
    load("bundles/minilm_l6/onnx").embed(["A sentence.", "Another."])   # tokenizers + numpy
    load("bundles/tts/torchscript").synthesize("Hello world!", seed=0)  # [waveform], torch

or from a shell: ``python -m modelver_export.runtime BUNDLE PHOTO`` (or ``TEXT...`` for text and
speech bundles).

Every problem is a one-line :class:`~modelver.errors.BundleError`: a missing file, a
truncated or corrupted model, a manifest whose sha256 does not match, edited meta, an
input of the wrong dtype, rank or size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from modelver.errors import BundleError

from ._bundle import (
    MANIFEST,
    META_DIGEST_FILE,
    META_DIGEST_KEY,
    META_FILE,
    check_meta_digest,
    read_manifest,
    verify_files,
)

__all__ = ["Bundle", "load", "decode_image", "draw_detections"]

_SUFFIX_FORMATS = {".onnx": "onnx", ".pt": "torchscript", ".pt2": "pt2"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


# --- backends: load a model file, return (meta, run) -----------------------------------------------------
#: (feeds, output names, seed or None) → outputs
Runner = Callable[[Mapping[str, np.ndarray], Sequence[str], "int | None"], list[np.ndarray]]


def _load_onnx(path: Path, threads: int | None, spin: bool = False) -> tuple[dict[str, Any], Runner, str]:
    try:
        import onnxruntime
    except ImportError:
        raise BundleError(
            "ONNX bundles run on onnxruntime, which is not installed here: pip install onnxruntime"
        ) from None

    options = onnxruntime.SessionOptions()
    # Sessions that spin their threads between runs slow down whatever runs next (~70% for
    # back-to-back sessions, or torch in the same process), so spinning is off unless asked
    # for: a latency-bound service with the cores to itself gains ~10% with spin=True.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise BundleError(
            f"{path} is not a loadable ONNX model (truncated or corrupted?): {_first_line(exc)}"
        ) from None
    props = session.get_modelmeta().custom_metadata_map
    digest = props.pop(META_DIGEST_KEY, None)
    try:
        meta = {key: json.loads(value) for key, value in props.items()}
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: metadata_props are not JSON ({exc}); the file was altered, re-export it.") from None
    check_meta_digest(meta, digest, str(path))

    def run(feeds: Mapping[str, np.ndarray], outputs: Sequence[str], seed: int | None) -> list[np.ndarray]:
        if seed is not None:
            raise BundleError(
                f"seed= seeds torch's random generator for bundles that sample; {path.name} runs on onnxruntime "
                "and draws no random numbers."
            )
        return session.run(list(outputs), dict(feeds))

    return meta, run, f"onnxruntime {onnxruntime.__version__}"


def _torch_meta(extra: Mapping[str, Any], path: Path) -> dict[str, Any]:
    raw = extra.get(META_FILE) or b""
    digest = extra.get(META_DIGEST_FILE) or b""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if not text:
        raise BundleError(f"{path} has no {META_FILE}: it was not exported by modelver; re-export it.")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: the embedded {META_FILE} is not JSON ({exc}); re-export the bundle.") from None
    check_meta_digest(meta, digest.decode() if isinstance(digest, bytes) else digest or None, str(path))
    return meta


def _import_torch(fmt: str) -> Any:
    try:
        import torch
    except ImportError:
        raise BundleError(
            f"{fmt} bundles run on torch, which is not installed here: pip install torch (ONNX bundles run without it)."
        ) from None
    return torch


def _torch_runner(module: Any) -> Runner:
    import torch

    def call(feeds: Mapping[str, np.ndarray]) -> Any:
        with torch.inference_mode():
            return module(*(torch.from_numpy(np.ascontiguousarray(a)) for a in feeds.values()))

    def run(feeds: Mapping[str, np.ndarray], outputs: Sequence[str], seed: int | None) -> list[np.ndarray]:
        if seed is None:
            result = call(feeds)
        else:  # the same draws as eager after torch.manual_seed(seed); the caller's generator is left as it was
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                result = call(feeds)
        results = result if isinstance(result, (tuple, list)) else (result,)
        return [r.numpy() for r in results][: len(outputs)]

    return run


def _load_torchscript(path: Path, threads: int | None) -> tuple[dict[str, Any], Runner, str]:
    torch = _import_torch("TorchScript")

    if threads:
        torch.set_num_threads(threads)
    extra = {META_FILE: "", META_DIGEST_FILE: ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        try:
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra).eval()
        except Exception as exc:
            raise BundleError(
                f"{path} is not a loadable TorchScript archive (truncated or corrupted?): {_first_line(exc)}"
            ) from None
        meta = _torch_meta(extra, path)
        engine = f"torch {torch.__version__} (TorchScript)"
        try:
            # Rewrites the loaded (frozen) module for this machine's kernels: about 20% faster
            # for EfficientNet-Lite0 on CPU, and no slow profiling runs on the first calls.
            module = torch.jit.optimize_for_inference(module)
            engine += ", optimize_for_inference"
        except Exception:  # pragma: no cover - depends on the build; the module still runs as saved
            pass
    return meta, _torch_runner(module), engine


def _load_pt2(path: Path, threads: int | None) -> tuple[dict[str, Any], Runner, str]:
    torch = _import_torch(".pt2")

    if threads:
        torch.set_num_threads(threads)
    extra = {META_FILE: "", META_DIGEST_FILE: ""}
    try:
        program = torch.export.load(str(path), extra_files=extra)
        module = program.module()
    except Exception as exc:
        raise BundleError(
            f"{path} is not a loadable .pt2 program (truncated or corrupted?): {_first_line(exc)}"
        ) from None
    return _torch_meta(extra, path), _torch_runner(module), f"torch {torch.__version__} (torch.export)"


_LOADERS = {"onnx": _load_onnx, "triton": _load_onnx, "torchscript": _load_torchscript, "pt2": _load_pt2}


# --- the bundle ------------------------------------------------------------------------------------------
class Bundle:
    """A loaded bundle: its meta, its input/output specs, and ways to run it."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        model_file: Path,
        meta: dict[str, Any],
        manifest: dict[str, Any] | None,
        runner: Runner,
        engine: str,
    ) -> None:
        self.path = path
        self.format = fmt
        self.model_file = model_file
        self.meta = meta
        self.manifest = manifest
        self.engine = engine
        self._run = runner
        self.inputs: list[dict[str, Any]] = _specs(meta.get("inputs"), "inputs", model_file)
        self.outputs: list[dict[str, Any]] = _specs(meta.get("outputs"), "outputs", model_file)

    def __repr__(self) -> str:
        return f"<Bundle {self.meta.get('name')} ({self.meta.get('weights')}) {self.format} on {self.engine}>"

    @property
    def categories(self) -> list[str]:
        return list(self.meta.get("categories") or [])

    def _check(self, spec: Mapping[str, Any], value: Any) -> np.ndarray:
        name, dtype, shape = spec["name"], np.dtype(spec["dtype"]), spec["shape"]
        layout = "(" + ", ".join(str(d) for d in shape) + ")"
        what = f"Input {name!r} of {self.meta.get('name', 'the bundle')}"
        if not isinstance(value, np.ndarray):
            if not hasattr(value, "__array__"):
                raise BundleError(f"{what} must be a numpy array, got {type(value).__name__}.")
            value = np.asarray(value)
        if value.dtype != dtype:
            hint = " (pixel values 0-255; the bundle normalises them itself)" if dtype == np.uint8 else ""
            raise BundleError(f"{what} must be {dtype}{hint}, got {value.dtype}; convert with .astype(np.{dtype}).")
        if value.ndim != len(shape):
            raise BundleError(f"{what} must have {len(shape)} dimensions {layout}, got shape {tuple(value.shape)}.")
        for axis, (want, got) in enumerate(zip(shape, value.shape)):
            if isinstance(want, int) and want != got:
                raise BundleError(
                    f"{what} must have {want} at axis {axis} of {layout}, got shape {tuple(value.shape)}."
                )
            if got == 0:
                raise BundleError(f"{what} has an empty axis {axis} (shape {tuple(value.shape)}).")
        for axis_name, limit in (spec.get("max") or {}).items():
            if axis_name in shape and value.shape[shape.index(axis_name)] > limit:
                size = value.shape[shape.index(axis_name)]
                raise BundleError(f"{what} has {size} along {axis_name!r}; this model takes at most {limit}.")
        bounds = spec.get("range")
        if bounds is not None and value.size:
            low, high = value.min(), value.max()
            if low < bounds[0] or high > bounds[1]:
                raise BundleError(
                    f"{what} must hold values from {bounds[0]} to {bounds[1]}, got {low} to {high}."
                )
        return value

    def run(self, inputs: Mapping[str, Any] | Any, *, seed: int | None = None) -> dict[str, np.ndarray]:
        """Run on named inputs (a dict), or on one array when the bundle has one input.

        ``seed``: for bundles that sample (text to speech), run right after
        ``torch.manual_seed(seed)`` (without changing the caller's generator): the same
        numbers as the eager model after the same call. Torch bundles only.
        """
        if not isinstance(inputs, Mapping):
            if len(self.inputs) != 1:
                names = ", ".join(s["name"] for s in self.inputs)
                raise BundleError(f"This bundle takes {len(self.inputs)} inputs ({names}); pass a dict.")
            inputs = {self.inputs[0]["name"]: inputs}
        unknown = set(inputs) - {s["name"] for s in self.inputs}
        if unknown:
            raise BundleError(
                f"Unknown input(s) {sorted(unknown)}; this bundle takes {[s['name'] for s in self.inputs]}."
            )
        feeds = {}
        for spec in self.inputs:
            if spec["name"] not in inputs:
                raise BundleError(f"Missing input {spec['name']!r} {spec.get('shape')} {spec.get('dtype')}.")
            feeds[spec["name"]] = self._check(spec, inputs[spec["name"]])
        check = _TASK_CHECKS.get(str(self.meta.get("task")))
        if check is not None:
            check(self, feeds)
        names = [s["name"] for s in self.outputs]
        results = self._run(feeds, names, seed)
        if len(results) != len(names):
            raise BundleError(
                f"{self.model_file} returned {len(results)} outputs, its meta lists {len(names)}: {names}."
            )
        return dict(zip(names, results, strict=True))

    __call__ = run

    def predict_image(self, image: Any, topk: int | None = None, *, score_threshold: float = 0.5) -> list[Any]:
        """What one image shows: a path, a PIL image or an (H, W, 3) uint8 array.

        Image classification bundles: the top-k (default 5) ``(category, probability)``.
        Object detection bundles: :meth:`detect` (``modelver.predict.Detection`` objects,
        best first; at most ``topk`` when given).
        """
        task = self.meta.get("task")
        if topk is not None and topk < 1:
            raise BundleError(f"topk must be at least 1, got {topk}.")
        if task == "object_detection":
            return self.detect(image, score_threshold)[:topk]
        if task != "image_classification" or not self.categories:
            raise BundleError(
                f"predict_image needs an image classification or object detection bundle; this one is {task!r}."
            )
        batch = decode_image(image)[None]
        probs = next(iter(self.run(batch).values()))[0]
        return _top(probs, self.categories, 5 if topk is None else topk)

    def detect(self, image: Any, score_threshold: float = 0.5) -> list[Any]:
        """Objects in one image scoring at least ``score_threshold``, best first, as ``modelver.predict.Detection``
        (label from the bundle's categories, score, box (x1, y1, x2, y2) in the image's pixels)."""
        from modelver.predict import decode_detections

        if self.meta.get("task") != "object_detection" or not self.categories:
            raise BundleError(f"detect needs an object detection bundle; this one is {self.meta.get('task')!r}.")
        if not 0.0 <= score_threshold <= 1.0:
            raise BundleError(f"The score threshold must be between 0 and 1, got {score_threshold}.")
        outputs = self.run(decode_image(image)[None])
        count = int(outputs["num_detections"][0])
        found = {name: outputs[name][0, :count] for name in ("boxes", "scores", "labels")}
        return decode_detections(found, self.categories, score_threshold)

    # --- text -------------------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        """The bundle's own tokenizer (``tokenizer.json`` beside the model; tokenizers + numpy, no torch)."""
        if getattr(self, "_tokenizer", None) is None:
            settings = self.meta.get("tokenization")
            if not isinstance(settings, dict):
                task = self.meta.get("task")
                raise BundleError(f"This {task!r} bundle takes no text (its meta has no tokenization).")
            from ._tokenize import BundleTokenizer

            directory = self.path if self.path.is_dir() else self.path.parent
            self._tokenizer = BundleTokenizer(directory / str(settings.get("file", "tokenizer.json")), settings)
        return self._tokenizer

    def run_text(self, texts: str | Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenize ``texts`` with the bundle's tokenizer and run: every output, one row per text."""
        return self.run(self.tokenizer(texts))

    def embed(self, texts: str | Sequence[str]) -> np.ndarray:
        """Sentence embeddings (len(texts), dim) float32 of a sentence-embedding bundle."""
        if self.meta.get("task") != "sentence_embedding":
            raise BundleError(f"embed needs a sentence_embedding bundle; this one is {self.meta.get('task')!r}.")
        return self.run_text(texts)["embeddings"]

    def classify_text(self, texts: str | Sequence[str], topk: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k (category, probability) of each text, for a text classification bundle."""
        if self.meta.get("task") != "text_classification" or not self.categories:
            raise BundleError(
                f"classify_text needs a text_classification bundle; this one is {self.meta.get('task')!r}."
            )
        if topk < 1:
            raise BundleError(f"topk must be at least 1, got {topk}.")
        probs = self.run_text(texts)["probabilities"]
        return [_top(row, self.categories, topk) for row in probs]

    # --- speech -----------------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        rate = self.meta.get("sample_rate")
        if not isinstance(rate, int):
            raise BundleError(f"This {self.meta.get('task')!r} bundle produces no audio (no sample_rate in its meta).")
        return rate

    def symbols(self, texts: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts → (symbol ids (B, L) int64 zero-padded, lengths (B,) int32), as the weights' text processor.

        Lower-cases each text and drops characters outside the symbol table. The batch keeps
        the order of ``texts``; :meth:`synthesize` sorts it for the model.
        """
        processing = self.meta.get("text_processing")
        symbols = processing.get("symbols") if isinstance(processing, dict) else None
        if not symbols:
            note = processing.get("note", "") if isinstance(processing, dict) else ""
            raise BundleError(
                f"This {self.meta.get('task')!r} bundle has no character table to turn text into symbols"
                f"{': ' + note if note else ''}; pass symbol ids to run()."
            )
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch or not all(isinstance(t, str) for t in batch):
            raise BundleError(f"Expected a string or a non-empty list of strings, got {texts!r}.")
        index = {symbol: i for i, symbol in enumerate(symbols)}
        lower = processing.get("lowercase", True)
        rows = [[index[c] for c in (t.lower() if lower else t) if c in index] for t in batch]
        for text, row in zip(batch, rows):
            if not row:
                raise BundleError(f"{text!r} has no character of the symbol table {''.join(symbols[1:])!r}.")
        ids = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return ids, np.asarray([len(r) for r in rows], dtype=np.int32)

    def synthesize(self, texts: str | Sequence[str], *, seed: int | None = None) -> list[np.ndarray]:
        """Speech of each text as a float32 waveform in [-1, 1] at :attr:`sample_rate`, in the order given."""
        if self.meta.get("task") != "text_to_speech":
            raise BundleError(f"synthesize needs a text_to_speech bundle; this one is {self.meta.get('task')!r}.")
        ids, lengths = self.symbols(texts)
        order = np.argsort(-lengths, kind="stable")  # the model packs its batch longest first
        outputs = self.run({"tokens": ids[order], "lengths": lengths[order]}, seed=seed)
        waveforms: list[np.ndarray] = [np.empty(0, np.float32)] * len(order)
        for row, original in enumerate(order):
            waveforms[original] = outputs["waveform"][row, : int(outputs["waveform_lengths"][row])]
        return waveforms


def _top(probs: np.ndarray, categories: list[str], topk: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[: min(topk, len(categories))]
    return [(categories[i], float(probs[i])) for i in order]


def _check_lengths(
    bundle: Bundle, feeds: Mapping[str, np.ndarray], data: str, axis: int, unit: str, descending: bool
) -> None:
    """``lengths`` of a padded batch: one per row, each from 1 to the padded size (longest first if ``descending``)."""
    lengths, size = feeds["lengths"], feeds[data].shape[axis]
    what = f"Input 'lengths' of {bundle.meta.get('name', 'the bundle')}"
    if lengths.shape != (feeds[data].shape[0],):
        raise BundleError(f"{what} must have one entry per row of {data!r}, got shape {tuple(lengths.shape)}.")
    if lengths.min() < 1 or lengths.max() > size:
        raise BundleError(f"{what} must be from 1 to {size} (the padded {unit}), got {lengths.tolist()}.")
    if descending and np.any(np.diff(lengths.astype(np.int64)) > 0):
        raise BundleError(
            f"{what} must be in decreasing order (the model packs its batch longest first), got {lengths.tolist()}; "
            "sort the batch (synthesize() does)."
        )


def _check_symbol_lengths(bundle: Bundle, feeds: Mapping[str, np.ndarray]) -> None:
    _check_lengths(bundle, feeds, "tokens", 1, "number of symbols", descending=True)


def _check_mel_lengths(bundle: Bundle, feeds: Mapping[str, np.ndarray]) -> None:
    _check_lengths(bundle, feeds, "mel", 2, "number of frames", descending=False)


def _check_token_mask(bundle: Bundle, feeds: Mapping[str, np.ndarray]) -> None:
    ids, mask = feeds["input_ids"], feeds["attention_mask"]
    if ids.shape != mask.shape:
        raise BundleError(
            f"Inputs 'input_ids' {tuple(ids.shape)} and 'attention_mask' {tuple(mask.shape)} of "
            f"{bundle.meta.get('name', 'the bundle')} must have the same shape."
        )


_TASK_CHECKS: dict[str, Callable[[Bundle, Mapping[str, np.ndarray]], None]] = {
    "text_to_speech": _check_symbol_lengths,
    "text_to_mel": _check_symbol_lengths,
    "vocoder": _check_mel_lengths,
    "sentence_embedding": _check_token_mask,
    "text_encoding": _check_token_mask,
    "text_classification": _check_token_mask,
}


def _specs(value: Any, key: str, where: Path) -> list[dict[str, Any]]:
    """The embedded input/output specs, validated: name, a numpy dtype, a shape of ints and axis names."""
    bad = BundleError(f"{where}: the embedded meta has no valid {key} specs; re-export the bundle.")
    if not isinstance(value, list) or not value:
        raise bad
    for spec in value:
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("name"), str)
            or not isinstance(spec.get("shape"), list)
        ):
            raise bad
        if not all(isinstance(d, (int, str)) for d in spec["shape"]) or not isinstance(spec.get("dtype"), str):
            raise bad
        try:
            np.dtype(spec.get("dtype"))
        except TypeError:
            raise bad from None
    return value


def decode_image(image: Any) -> np.ndarray:
    """An image file, PIL image or (H, W, 3) array → uint8 (3, H, W), RGB."""
    if isinstance(image, np.ndarray):
        array = image
    else:
        from PIL import Image, UnidentifiedImageError

        if isinstance(image, (str, os.PathLike)):
            path = Path(image)
            if not path.is_file():
                raise BundleError(f"Image file {path} does not exist.")
            try:
                with Image.open(path) as img:
                    array = np.asarray(img.convert("RGB"))
            except (UnidentifiedImageError, OSError) as exc:
                raise BundleError(f"{path} is not an image PIL can read ({_first_line(exc)}).") from None
        elif hasattr(image, "convert"):
            array = np.asarray(image.convert("RGB"))
        else:
            raise BundleError(f"Expected an image path, a PIL image or an (H, W, 3) array, got {type(image).__name__}.")
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise BundleError(f"Expected an RGB uint8 image of shape (H, W, 3), got {array.dtype} {tuple(array.shape)}.")
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def _resolve(path: Path) -> tuple[Path, dict[str, Any] | None, str, Path]:
    """(bundle dir or file, manifest or None, format, model file) for what the user pointed at."""
    if path.is_dir():
        if (path / MANIFEST).is_file():
            manifest = read_manifest(path)
            return path, manifest, manifest["format"], path / manifest["model_file"]
        inner = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / MANIFEST).is_file()]
        if len(inner) == 1:  # a Triton model repository holding one model
            return _resolve(inner[0])
        if len(inner) > 1:
            names = ", ".join(p.name for p in inner)
            raise BundleError(f"{path} holds several bundles ({names}); name one of them.")
        raise BundleError(f"{path} is not a bundle: it has no {MANIFEST}; point at a bundle directory or a model file.")
    if path.is_file():
        fmt = _SUFFIX_FORMATS.get(path.suffix)
        if fmt is None:
            raise BundleError(f"{path}: unknown bundle file type {path.suffix!r}; expected .onnx, .pt or .pt2.")
        return path, None, fmt, path
    raise BundleError(f"Bundle {path} does not exist.")


def load(
    path: str | os.PathLike[str], *, verify: bool = True, threads: int | None = None, spin: bool = False
) -> Bundle:
    """Load a bundle directory (checked against its ``bundle.json``) or a bare model file.

    Args:
        path: a directory with ``bundle.json`` (a Triton model repository with one model
            works too), or a ``.onnx`` / ``.pt`` (TorchScript) / ``.pt2`` file.
        verify: check every file's size and sha256 against the manifest first.
        threads: intra-op threads (onnxruntime's session option; ``torch.set_num_threads``
            for the torch formats, which is process-wide).
        spin: ONNX bundles: let onnxruntime's threads spin between runs (its own default).
            Lower latency when the session has the cores to itself; off by default because
            spinning threads slow down other sessions and torch on the same cores.
    """
    root, manifest, fmt, model_file = _resolve(Path(path))
    if fmt not in _LOADERS:
        raise BundleError(f"{root}: unknown bundle format {fmt!r}; expected one of {', '.join(_LOADERS)}.")
    if manifest is not None and verify:
        verify_files(root, manifest)
    if not model_file.is_file():
        raise BundleError(f"{model_file} is missing from the bundle; copy the whole directory.")
    if fmt in ("onnx", "triton"):
        meta, runner, engine = _load_onnx(model_file, threads, spin)
    else:
        meta, runner, engine = _LOADERS[fmt](model_file, threads)
    return Bundle(root, fmt, model_file, meta, manifest, runner, engine)


# --- command line: python -m modelver_export.runtime BUNDLE INPUT... ---------------------------------------------
def format_prediction(bundle: Bundle, image: str, top: list[tuple[str, float]]) -> str:
    lines = [
        f"{bundle.meta.get('name')} ({bundle.meta.get('weights')}), {bundle.format} bundle on {bundle.engine}, {image}:"
    ]
    lines += [f"  {prob:7.2%}  {label}" for label, prob in top]
    return "\n".join(lines)


def draw_detections(image: Any, detections: Sequence[Any], path: str | os.PathLike[str], width: int = 3) -> Path:
    """Save ``image`` with each detection's box and ``label score`` drawn on it (Pillow, no torch)."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(decode_image(image).transpose(1, 2, 0))
    draw = ImageDraw.Draw(canvas)
    for found in detections:
        x1, y1, x2, y2 = found.box
        draw.rectangle((x1, y1, x2, y2), outline=(255, 0, 0), width=width)
        text = f"{found.label} {found.score:.0%}"
        draw.rectangle(draw.textbbox((x1, y1), text), fill=(255, 0, 0))
        draw.text((x1, y1), text, fill=(255, 255, 255))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(path)
    except (OSError, ValueError) as exc:
        raise BundleError(f"Cannot write {path}: {_first_line(exc)}") from None
    return path


def write_wav(path: str | os.PathLike[str], waveform: np.ndarray, sample_rate: int) -> Path:
    """A mono float waveform in [-1, 1] as 16-bit PCM WAV (``modelver.models.audio.wav``: numpy, no torch)."""
    from modelver.models.audio.wav import write_wav as write_pcm16

    try:
        return write_pcm16(path, waveform, sample_rate)
    except OSError as exc:
        raise BundleError(f"Cannot write {path}: {_first_line(exc)}") from None


def _numbered(path: str, index: int, count: int) -> str:
    if count == 1:
        return path
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}-{index}.{suffix}" if dot else f"{path}-{index}"


def describe_run(
    bundle: Bundle,
    inputs: Sequence[str],
    *,
    topk: int = 5,
    out: str | None = None,
    seed: int | None = None,
    threshold: float = 0.5,
) -> list[str]:
    """Run a bundle on command-line inputs (image paths or texts, by its task) and say what came out.

    ``out``: the WAV file of a text-to-speech bundle (default ``speech.wav``), or where an
    object detection bundle draws its boxes (default: nowhere). ``threshold``: the lowest
    detection score shown.
    """
    task = bundle.meta.get("task")
    head = f"{bundle.meta.get('name')} ({bundle.meta.get('weights')}), {bundle.format} bundle on {bundle.engine}"
    if not inputs:
        raise BundleError("Give the bundle something to run on: image files, or texts for text and speech bundles.")
    if out is not None and task not in ("object_detection", "text_to_speech"):
        raise BundleError(f"--out is for object detection and text-to-speech bundles; this one is {task!r}.")
    if task == "image_classification":
        return [format_prediction(bundle, image, bundle.predict_image(image, topk)) for image in inputs]
    if task == "object_detection":
        if not 0.0 <= threshold <= 1.0:
            raise BundleError(f"--threshold must be between 0 and 1, got {threshold}.")
        lines = []
        for i, image in enumerate(inputs, 1):
            found = bundle.detect(image, threshold)
            lines.append(f"{head}, {image}: {len(found)} object(s) with score >= {threshold}")
            lines += [f"  {detection}" for detection in found]
            if out is not None:
                lines.append(f"  boxes drawn in {draw_detections(image, found, _numbered(out, i, len(inputs)))}")
        return lines
    if task == "sentence_embedding":
        embeddings = bundle.embed(list(inputs))
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        lines = [f"{head}, cosine similarity of {len(inputs)} sentences:"]
        lines += [f"  [{i}] {text}" for i, text in enumerate(inputs, 1)]
        lines.append(" " * 5 + "".join(f"[{j}]".rjust(8) for j in range(1, len(inputs) + 1)))
        for i, row in enumerate(unit @ unit.T, 1):
            lines.append(f"[{i}]".ljust(5) + "".join(f"{value:8.4f}" for value in row))
        return lines
    if task == "text_classification":
        lines = [f"{head}:"]
        for text, top in zip(inputs, bundle.classify_text(list(inputs), topk)):
            lines.append(f"  {text}")
            lines += [f"    {prob:7.2%}  {label}" for label, prob in top]
        return lines
    if task == "text_encoding":
        batch = bundle.tokenizer(list(inputs))
        hidden = bundle.run(batch)["last_hidden_state"]
        lines = [f"{head}, last hidden state of each text:"]
        for text, mask, row in zip(inputs, batch["attention_mask"], hidden):
            count = int(mask.sum())
            first = row[0, :3].round(4).tolist()
            lines.append(f"  {text!r}: {count} tokens -> ({count}, {row.shape[-1]}), first values {first}")
        return lines
    if task == "text_to_speech":
        lines = [f"{head}, {bundle.sample_rate} Hz:"]
        for i, (text, waveform) in enumerate(zip(inputs, bundle.synthesize(list(inputs), seed=seed)), 1):
            path = write_wav(_numbered(out or "speech.wav", i, len(inputs)), waveform, bundle.sample_rate)
            lines.append(f"  {text!r}: {waveform.shape[0] / bundle.sample_rate:.2f} s -> {path}")
        return lines
    if task == "text_to_mel":
        ids, lengths = bundle.symbols(list(inputs))
        order = np.argsort(-lengths, kind="stable")
        result = bundle.run({"tokens": ids[order], "lengths": lengths[order]}, seed=seed)
        lines = [f"{head}, mel spectrograms:"]
        for row, original in enumerate(order):
            frames, mels = int(result["mel_lengths"][row]), result["mel"].shape[1]
            lines.append(f"  {inputs[original]!r}: {frames} frames of {mels} mels")
        return lines
    raise BundleError(
        f"`run` has no command-line form for {task!r} bundles; call modelver_export.runtime.load(PATH).run(...) "
        f"with its inputs {[s['name'] for s in bundle.inputs]}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modelver_export.runtime",
        description="Run a modelver bundle on images or texts (no torch needed for ONNX).",
    )
    from .cli import add_run_arguments  # argparse only: no torch

    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        bundle = load(args.bundle, threads=args.threads, spin=args.spin)
        lines = describe_run(
            bundle, args.inputs, topk=args.topk, out=args.out, seed=args.seed, threshold=args.threshold
        )
        print("\n".join(lines))
    except BundleError as exc:
        print(f"{parser.prog}: error: {_first_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
