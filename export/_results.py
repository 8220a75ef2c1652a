"""What ``export_model`` returns, and the table ``modelver export`` prints of it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

__all__ = ["BundleResult", "summary_table"]


@dataclasses.dataclass
class BundleResult:
    """One written bundle, as the summary table shows it."""

    format: str
    path: Path
    size: int
    seconds: float
    parity: dict[str, Any]
    version: int | None = None  #: the number of a versioned format's bundle (Triton)
    #: reduced-precision bundles: the agreement report (``modelver_export.agreement``) instead of parity
    agreement: dict[str, Any] | None = None

    @property
    def max_abs_diff(self) -> float | None:
        from .parity import max_abs_diff

        return max_abs_diff(self.parity)


def summary_table(results: Sequence[BundleResult]) -> str:
    quality = "max abs diff / agreement" if any(r.agreement for r in results) else "max abs diff"
    rows = [("format", "size", "export", "check", quality, "bundle")]
    for r in results:
        diff = r.max_abs_diff
        check = (r.agreement or r.parity).get("seconds")
        rows.append(
            (
                r.format,
                f"{r.size / 2**20:.1f} MiB",
                f"{r.seconds:.1f} s",
                f"{check:.1f} s" if check is not None else "-",
                _agreement_cell(r.agreement) if r.agreement else f"{diff:.1e}" if diff is not None else "not checked",
                str(r.path) + (f" (version {r.version})" if r.version is not None else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _agreement_cell(report: dict[str, Any]) -> str:
    """The worst figure over the engines, e.g. ``agrees: top-1 1.00, max prob diff 0.05``."""
    engines = list(report["engines"].values())
    verdict = "agrees" if report["passed"] else "STRAYS"
    if "top1_agreement" in engines[0]:
        top1 = min(e["top1_agreement"] for e in engines)
        diff = max(e["max_prob_diff"] for e in engines)
        return f"{verdict}: top-1 {top1:.2f}, max prob diff {diff:.2f}"
    return f"{verdict}: min cosine {min(e['min_cosine'] for e in engines):.4f}"
