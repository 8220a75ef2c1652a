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
    missing = [k for k in ("builder", "builder_kwargs", "sha256", "weights_file", "meta") if k not in config]
    if not isinstance(config, dict) or config.get("library_name") != LIBRARY_NAME or missing:
        raise ModelverError(
            f"{origin}: {CONFIG_NAME} was not written by modelver's save_pretrained "
            f"(library_name {config.get('library_name') if isinstance(config, dict) else None!r}"
            f"{', missing ' + ', '.join(missing) if missing else ''})."
        )
    return config
