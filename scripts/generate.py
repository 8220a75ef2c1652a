"""Regenerate every generated file (``make generate``), after adding a model or changing meta.

- ``modelver/models/_manifest.py``: which module defines which builder and enum (``make manifest``);
- ``docs/models.md``: the model pages (``modelver docs``);
- ``README.md``: the export support table and its notes (``modelver export --list --markdown``),
  between its ``<!-- generated -->`` markers;
- ``modelver/fingerprints.json``: initial fingerprints of builders that have none yet
  (``modelver verify --update NAME --reason "initial fingerprints"``). A builder that already
  has fingerprints is never touched here: changing one is a decision, with its own reason.

Each step says what it wrote; running it twice changes nothing the second time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- generated: modelver export --list --markdown -->"
END = "<!-- end generated -->"


def manifest() -> None:
    subprocess.run([sys.executable, "-m", "modelver._manifest_build", "--write"], check=True, cwd=ROOT)


def docs() -> None:
    subprocess.run([sys.executable, "-m", "modelver", "docs"], check=True, cwd=ROOT)


def readme_support_table() -> None:
    from modelver_export.cli import support_markdown

    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers around the export support table.")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n" + "\n".join(support_markdown()) + f"\n{END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
        print(f"wrote {readme.relative_to(ROOT)} (export support table)")


def initial_fingerprints() -> None:
    from modelver import fingerprint

    recorded = fingerprint.load_file()["entries"]
    by_builder: dict[str, list[bool]] = {}
    for name, weights in fingerprint.entries():
        by_builder.setdefault(name, []).append(fingerprint.key_of(name, weights) in recorded)
    new = sorted(name for name, known in by_builder.items() if not any(known))
    partial = sorted(name for name, known in by_builder.items() if any(known) and not all(known))
    if new:
        for key in fingerprint.update(new, "initial fingerprints"):
            print(f"fingerprinted {key}")
    for name in partial:
        print(f"{name} has new weights entries: modelver verify --update {name} --reason '...' (a decision, not generated)")


def main() -> int:
    manifest()
    docs()
    readme_support_table()
    initial_fingerprints()
    return 0


if __name__ == "__main__":
    sys.exit(main())
