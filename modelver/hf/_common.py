"""Names shared by saving and loading: the files of a repository folder, reading its config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ModelverError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
LIBRARY_NAME = "modelver"


def _read_config(path: Path, origin: str) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelverError(f"{origin}: {CONFIG_NAME} is not readable JSON ({exc}).") from None
    missing = (
        [k for k in ("builder", "builder_kwargs", "sha256", "weights_file", "meta") if k not in config]
        if isinstance(config, dict)
        else []
    )
    if not isinstance(config, dict) or config.get("library_name") != LIBRARY_NAME or missing:
        raise ModelverError(
            f"{origin}: {CONFIG_NAME} was not written by modelver's save_pretrained "
            f"(library_name {config.get('library_name') if isinstance(config, dict) else None!r}"
            f"{', missing ' + ', '.join(missing) if missing else ''})."
        )
    problem = _config_problem(config)
    if problem:
        raise ModelverError(f"{origin}: {CONFIG_NAME} {problem}. Write it again with save_pretrained.")
    return config


def _config_problem(config: dict[str, Any]) -> str | None:
    """What is wrong with the fields of a config.json (types, impossible values), or None."""
    checks: list[tuple[str, type | tuple[type, ...], str]] = [
        ("builder", str, "a builder name"),
        ("builder_kwargs", dict, "an object of builder arguments"),
        ("sha256", str, "a sha256 hex digest"),
        ("weights_file", str, "a file name"),
        ("meta", dict, "an object"),
        ("shared_tensors", (dict, type(None)), "an object"),
        ("weights", (str, type(None)), "a weights name or null"),
    ]
    for key, kind, what in checks:
        if key in config and not isinstance(config[key], kind):
            return f"has {key}={config[key]!r}: it must be {what}"
    if len(config["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in config["sha256"].lower()):
        return f"has sha256={config['sha256']!r}: it must be a full 64-character hex digest"
    name = config["weights_file"]
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        return f"has weights_file={name!r}: it must name a file inside the folder (no '..', no absolute path)"
    for key, value in config["builder_kwargs"].items():
        if key.startswith("num_") and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            return f"has builder_kwargs {key}={value!r}: it must be a whole number of at least 1"
    return None
