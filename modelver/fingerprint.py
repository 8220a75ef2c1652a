"""Output fingerprints of released weights: does each entry still mean what it meant?

For every builder × weights entry, the model is built exactly as the entry would build it
(meta-driven arguments, ``ContextParams``, transforms) but with a seeded synthetic
state_dict (:func:`modelver.testing.synthetic_weights`), run on a seeded input of its task,
and a few summary values of each output are kept (shape, mean, std, min, max and eight
values at fixed positions) with a tolerance. Where the real file is available offline (it
ships in a package), the real weights on a real sample are fingerprinted too.

A change of model code, preprocessing or layer defaults that alters what a released entry
computes shows up as ``changed``. The committed fingerprints live in
``modelver/fingerprints.json``; ``modelver verify`` recomputes them and
``modelver verify --update NAME --reason TEXT`` records a deliberate change.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import Tensor

from ._registry import get_model_builder, list_models, weights_enum_of
from .errors import ModelverError, WeightsError

__all__ = ["FINGERPRINTS", "Result", "compute", "entries", "load_file", "update", "verify"]

FINGERPRINTS = Path(__file__).with_name("fingerprints.json")
RTOL = 1e-4
ATOL = 1e-5
_SAMPLES = 8


def entries(names: Iterable[str] | None = None) -> list[tuple[str, Any]]:
    """(builder name, weights member) for every entry of the named builders (default: all)."""
    pairs = []
    for name in names or list_models():
        builder = get_model_builder(name)
        enum = weights_enum_of(builder)
        if enum is None:
            continue  # weight-less builder: nothing released to guard
        for member_name, member in enum.__members__.items():
            if member_name == member.name:  # aliases (DEFAULT) are fingerprinted through their target
                pairs.append((name, member))
    return pairs


def key_of(name: str, weights: Any) -> str:
    return f"{name}/{weights!r}"


def summarize(output: Tensor) -> dict[str, Any]:
    flat = output.detach().double().flatten()
    if flat.numel() == 0:
        return {"shape": list(output.shape), "stats": {}, "values": []}
    positions = sorted({int(i * (flat.numel() - 1) / max(_SAMPLES - 1, 1)) for i in range(_SAMPLES)})
    return {
        "shape": list(output.shape),
        "stats": {
            "mean": flat.mean().item(),
            "std": flat.std().item() if flat.numel() > 1 else 0.0,
            "min": flat.min().item(),
            "max": flat.max().item(),
        },
        "values": [flat[i].item() for i in positions],
    }


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Probes: (model, weights) → named output tensors, deterministic for a given model.
def _probe_image_classification(model: Any, weights: Any) -> dict[str, Tensor]:
    image = torch.randint(0, 256, (1, 3, 200, 260), dtype=torch.uint8, generator=_seeded(1))
    return {"logits": model(weights.transforms()(image))}


def _probe_object_detection(model: Any, weights: Any) -> dict[str, Tensor]:
    image = torch.randint(0, 256, (3, 160, 200), dtype=torch.uint8, generator=_seeded(1))
    images, _ = model.transform([weights.transforms()(image)])
    features = model.backbone(images.tensors)
    pooled = torch.randn(4, features[next(iter(features))].shape[1], 7, 7, generator=_seeded(2))
    scores, boxes = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
    outputs = {f"features.{k}": v for k, v in features.items()}
    outputs.update({"image": images.tensors, "class_logits": scores, "box_regression": boxes})
    return outputs


def _token_ids(model: Any) -> tuple[Tensor, Tensor]:
    vocab = model.embeddings.word_embeddings.num_embeddings
    ids = torch.randint(5, vocab, (2, 12), generator=_seeded(1))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    return ids, mask


def _probe_text(model: Any, weights: Any) -> dict[str, Tensor]:
    ids, mask = _token_ids(model)
    return {"output": model(ids, mask)}


def _probe_tacotron2(model: Any, n_mels: int) -> dict[str, Tensor]:
    tokens = torch.randint(1, model.embedding.num_embeddings, (1, 20), generator=_seeded(1))
    mel = torch.randn(1, n_mels, 30, generator=_seeded(2))
    torch.manual_seed(0)  # Tacotron2's prenet keeps dropout on at inference
    _, postnet, gate, _ = model(tokens, torch.tensor([20]), mel, torch.tensor([30]))
    return {"mel_postnet": postnet, "gate": gate}


def _probe_wavernn(model: Any, n_mels: int) -> dict[str, Tensor]:
    frames = 10
    specgram = torch.randn(1, 1, n_mels, frames, generator=_seeded(3))
    waveform = torch.rand(1, 1, (frames - model.kernel_size + 1) * model.hop_length, generator=_seeded(4)) * 2 - 1
    return {"wavernn_logits": model(waveform, specgram)}


def _probe_text_to_mel(model: Any, weights: Any) -> dict[str, Tensor]:
    return _probe_tacotron2(model, weights.meta["n_mels"])


def _probe_vocoder(model: Any, weights: Any) -> dict[str, Tensor]:
    return _probe_wavernn(model, weights.meta["n_mels"])


def _probe_text_to_speech(model: Any, weights: Any) -> dict[str, Tensor]:
    return {
        **_probe_tacotron2(model.tacotron2, weights.meta["n_mels"]),
        **_probe_wavernn(model.vocoder.model, weights.meta["n_mels"]),
    }


PROBES: dict[str, Callable[[Any, Any], dict[str, Tensor]]] = {
    "image_classification": _probe_image_classification,
    "object_detection": _probe_object_detection,
    "sentence_embedding": _probe_text,
    "text_encoding": _probe_text,
    "text_to_mel": _probe_text_to_mel,
    "vocoder": _probe_vocoder,
    "text_to_speech": _probe_text_to_speech,
}


def _real_image_classification(model: Any, weights: Any) -> dict[str, Tensor] | None:
    try:
        from .predict import sample_image

        image = sample_image("chelsea")
    except ModelverError:
        return None  # scikit-image missing: no real sample
    return {"chelsea_probs": model(weights.transforms()(image).unsqueeze(0)).softmax(-1)}


def _real_sentence_embedding(model: Any, weights: Any) -> dict[str, Tensor] | None:
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    batch = weights.transforms()(sentences)
    return {"embeddings": model(batch["input_ids"], batch["attention_mask"])}


REAL_PROBES: dict[str, Callable[[Any, Any], dict[str, Tensor] | None]] = {
    "image_classification": _real_image_classification,
    "sentence_embedding": _real_sentence_embedding,
}


def _task(weights: Any) -> str:
    task = weights.meta.get("task")
    if task not in PROBES:
        raise ModelverError(
            f"{weights!r}: no fingerprint probe for task {task!r}. Add one to modelver.fingerprint.PROBES."
        )
    return task


def compute(name: str, weights: Any, *, real: bool = False) -> dict[str, Any] | None:
    """Fingerprint of one entry: synthetic weights (``real=False``) or the real file (None if unavailable)."""
    from .testing import synthetic_weights

    task = _task(weights)
    builder = get_model_builder(name)
    with torch.inference_mode():
        if real:
            probe = REAL_PROBES.get(task)
            if probe is None:
                return None
            try:
                model = builder(weights=weights, progress=False).eval()
            except WeightsError:
                return None
            outputs = probe(model, weights)
        else:
            with synthetic_weights(seed=0):
                model = builder(weights=weights, progress=False).eval()
            outputs = PROBES[task](model, weights)
    if outputs is None:
        return None
    broken = [key for key, value in outputs.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise ModelverError(f"{key_of(name, weights)}: non-finite values in {broken}; the probe cannot fingerprint it.")
    return {key: summarize(value) for key, value in outputs.items()}


def _max_difference(reference: dict[str, Any], current: dict[str, Any]) -> tuple[float, str]:
    """Largest difference beyond tolerance between two fingerprints (0.0 if within it)."""
    worst, where = 0.0, ""
    for output, ref in reference.items():
        cur = current.get(output)
        if cur is None or cur["shape"] != ref["shape"]:
            return float("inf"), f"{output}: shape {None if cur is None else cur['shape']} != {ref['shape']}"
        pairs = [(f"{output}.{k}", ref["stats"][k], cur["stats"].get(k)) for k in ref["stats"]]
        pairs += [(f"{output}[{i}]", a, b) for i, (a, b) in enumerate(zip(ref["values"], cur["values"]))]
        for label, a, b in pairs:
            if b is None:
                return float("inf"), f"{label} missing"
            excess = abs(a - b) - (ATOL + RTOL * abs(a))
            if excess > 0 and abs(a - b) > worst:
                worst, where = abs(a - b), label
    if set(current) - set(reference):
        return float("inf"), f"new outputs {sorted(set(current) - set(reference))}"
    return worst, where


@dataclasses.dataclass
class Result:
    key: str
    status: str  # ok | changed | new | skipped
    detail: str = ""
    difference: float = 0.0


def load_file(path: Path = FINGERPRINTS) -> dict[str, Any]:
    if not path.exists():
        return {"version": 1, "tolerance": {"rtol": RTOL, "atol": ATOL}, "entries": {}}
    return json.loads(path.read_text())


def verify(names: Iterable[str] | None = None, path: Path = FINGERPRINTS) -> list[Result]:
    """Recompute the fingerprints of the named builders' entries and compare with the committed ones."""
    committed = load_file(path)["entries"]
    results = []
    for name, weights in entries(names):
        key = key_of(name, weights)
        record = committed.get(key)
        if record is None:
            results.append(Result(key, "new", "no committed fingerprint: run `modelver verify --update`"))
            continue
        diffs = [("synthetic", *_max_difference(record["synthetic"], compute(name, weights) or {}))]
        notes = []
        if "real" in record:
            real = compute(name, weights, real=True)
            if real is None:
                notes.append("real weights not available here")
            else:
                diffs.append(("real", *_max_difference(record["real"], real)))
        kind, difference, where = max(diffs, key=lambda d: d[1])
        if difference > 0:
            results.append(Result(key, "changed", f"{kind}: {where}", difference))
        else:
            results.append(Result(key, "ok", "; ".join([" + ".join(d[0] for d in diffs), *notes])))
    return results


def update(names: Iterable[str], reason: str, path: Path = FINGERPRINTS) -> list[str]:
    """Recompute and store the fingerprints of the named builders' entries, recording why."""
    if not reason or not reason.strip():
        raise ModelverError("Changing a fingerprint needs a reason: --reason 'what changed and why'.")
    data = load_file(path)
    today = datetime.date.today().isoformat()
    keys = []
    for name, weights in entries(names):
        key = key_of(name, weights)
        record = data["entries"].get(key, {"history": []})
        record["synthetic"] = compute(name, weights)
        real = compute(name, weights, real=True)
        if real is not None:
            record["real"] = real
        record["history"] = [*record.get("history", []), {"date": today, "reason": reason.strip()}]
        data["entries"][key] = record
        keys.append(key)
    data["entries"] = dict(sorted(data["entries"].items()))
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return keys


def status_of(name: str, weights: Any, path: Path = FINGERPRINTS) -> str:
    """One word for ``modelver info``: recorded (with the date of the last change) or missing."""
    record = load_file(path)["entries"].get(key_of(name, weights))
    if record is None:
        return "missing (run `modelver verify --update`)"
    last = record["history"][-1] if record.get("history") else {"date": "?", "reason": "?"}
    parts = "synthetic + real" if "real" in record else "synthetic"
    return f"recorded ({parts}); last change {last['date']}: {last['reason']}"
