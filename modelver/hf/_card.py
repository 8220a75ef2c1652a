"""The model card (README.md): YAML front matter and text generated from the weights' meta."""

from __future__ import annotations

import re
from typing import Any, Mapping

from .. import _modeldocs
from ._common import CONFIG_NAME, LIBRARY_NAME, WEIGHTS_NAME

# modelver tasks → Hugging Face pipeline tags (the Hub's task filter); others get no pipeline tag.
_PIPELINE_TAGS = {
    "image_classification": "image-classification",
    "object_detection": "object-detection",
    "semantic_segmentation": "image-segmentation",
    "speech_recognition": "automatic-speech-recognition",
    "audio_classification": "audio-classification",
    "text_classification": "text-classification",
    "text_embedding": "sentence-similarity",
    "sentence_embedding": "sentence-similarity",
    "feature_extraction": "feature-extraction",
}




def _hf_license(value: Any) -> dict[str, str]:
    if not value:
        return {}
    slug = str(value).strip().lower()
    if re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", slug):
        return {"license": slug}
    return {"license": "other", "license_name": re.sub(r"[^a-z0-9.\-]+", "-", slug).strip("-")}


def _model_card(config: Mapping[str, Any], repo_id: str | None) -> Any:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    meta = config["meta"]
    task = meta.get("task")
    name = config["builder"]
    results = [
        EvalResult(
            task_type=str(task or "other").replace("_", "-"),
            dataset_type=re.sub(r"[^a-z0-9]+", "-", str(dataset).lower()).strip("-"),
            dataset_name=str(dataset),
            metric_type=str(metric),
            metric_value=value,
        )
        for dataset, metrics in (meta.get("_metrics") or {}).items()
        if isinstance(metrics, dict)
        for metric, value in metrics.items()
        if value is not None
    ]
    tags = [LIBRARY_NAME, name] + ([str(task).replace("_", "-")] if task else [])
    data = ModelCardData(
        library_name=LIBRARY_NAME,
        tags=tags,
        pipeline_tag=_PIPELINE_TAGS.get(str(task)),
        model_name=name,
        eval_results=results or None,
        **_hf_license(meta.get("license")),
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{_card_text(config, repo_id)}")


def _card_text(config: Mapping[str, Any], repo_id: str | None) -> str:
    meta, name = config["meta"], config["builder"]
    kwargs = ", ".join(f"{k}={v!r}" for k, v in sorted(config["builder_kwargs"].items()))
    lines = [
        f"# {name}" + (f" ({meta['task'].replace('_', ' ')})" if meta.get("task") else ""),
        "",
        f"Weights for modelver's `{name}` builder"
        + (f", starting from `{config['weights']}`" if config["weights"] else "")
        + f", saved by modelver {config['modelver_version']}.",
        "",
        "## Use",
        "",
        "```python",
        "from modelver.hf import from_pretrained",
        "",
        f'model = from_pretrained("hf://{repo_id}")'
        if repo_id
        else 'model = from_pretrained("path/to/this/folder")  # or "hf://org/name" once pushed',
        "```",
        "",
        (f"`from_pretrained` builds `{name}({kwargs})`, checks `{WEIGHTS_NAME}` against the sha256 in "
        f"`{CONFIG_NAME}` and loads it. `modelver.hf.pretrained_weights(...)` gives the same weights as a "
        "`Weights` entry (url, sha256, preprocessing, meta)."),
        "",
    ]
    metrics = _modeldocs.format_metrics(meta)
    facts = [
        ("metrics", metrics),
        ("parameters", _modeldocs.format_params(meta)),
        ("categories", f"{len(meta['categories'])}" if isinstance(meta.get("categories"), list) else ""),
        ("license", meta.get("license", "")),
        ("source", meta.get("source", "")),
        ("recipe", meta.get("recipe", "")),
        (f"sha256 of {WEIGHTS_NAME}", f"`{config['sha256']}`"),
    ]
    lines += ["## Facts", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {' '.join(str(value).split()).replace('|', '/')} |" for key, value in facts if value]
    if meta.get("_docs"):
        lines += ["", str(meta["_docs"])]
    return "\n".join(lines) + "\n"


