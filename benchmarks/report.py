"""Markdown tables of the latest results (benchmarks/results/*.json), for the README's Performance section.

    .venv/bin/python benchmarks/report.py
"""

from __future__ import annotations

import json
from typing import Any

from _common import RESULTS


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def rows_to_md(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(result: dict[str, Any]) -> str:
    m = result["machine"]
    load_avg = m.get("load_average")
    busy = f", load average {load_avg[0]:g} when saved" if load_avg else ""
    return f"{m['cpus']}-core {m['processor']}, torch {m.get('torch')}, Python {m['python']}{busy}"


def build(result: dict[str, Any]) -> str:
    rows = [
        [name, f"{r['file_mb']:.0f} MB", f"{r['torchvision_s']:.2f} s", f"{r['modelver_s']:.2f} s",
         f"{r['time_ratio']:.2f}x",
         f"{r['modelver_mem_mb'] / r['file_mb']:.2f}x / {r['modelver_mem_after_read_mb'] / r['file_mb']:.2f}x",
         f"{r['torchvision_mem_mb'] / r['file_mb']:.2f}x", "yes" if r["outputs_identical"] else "NO"]
        for name, r in result["results"].items()
    ]
    return rows_to_md(
        ["model", "file", "torchvision", "modelver", "time ratio", "modelver memory / file (build / all read)",
         "torchvision memory / file", "identical outputs"],
        rows,
    )


def imports(result: dict[str, Any]) -> str:
    rows = [[f"`{name}`", f"{r['median_s']:.2f} s", f"{r['ratio']:.2f}x"] for name, r in result["results"].items()]
    return rows_to_md(["command", "median", "x `import torch`"], rows)


def bundles(result: dict[str, Any]) -> str:
    if result.get("peak_gflops"):
        return precision_rows(result)
    rows = []
    for name, r in result["results"].items():
        for batch, timings in r["batches"].items():
            eager = timings["eager"]["median_ms"]
            cells = [f"{t['median_ms']:.0f} ms ({t['ratio']:.2f}x, {t['max_abs_diff']:.0e})"
                     for key, t in timings.items() if key != "eager"]
            rows.append([name, batch, f"{eager:.0f} ms", *cells])
    formats = [k for k in next(iter(next(iter(result["results"].values()))["batches"].values())) if k != "eager"]
    return rows_to_md(["model", "batch", "eager", *(f"{f} (x eager, max abs diff)" for f in formats)], rows)


def precision_rows(result: dict[str, Any]) -> str:
    """One row per contender (models differ in their rows): time, ratio, GFLOP/s and the share of the GEMM peak."""
    peak = result["peak_gflops"].get("best") or result["peak_gflops"]["before"]
    kinds = [p for p in ("fp32", "bf16", "int8") if p in peak]  # results from before the INT8 peak have two
    rows = []
    for name, r in result["results"].items():
        for batch, timings in r["batches"].items():
            for key, t in timings.items():
                share = [f"{t['gflops'] / peak[p]:.0%}" for p in kinds]
                rows.append([name, batch, key, f"{t['median_ms']:.1f} ms", f"{t['ratio']:.2f}x",
                             f"{t['gflops']:.0f}", *share, f"{t['max_abs_diff']:.0e}"])  # fmt: skip
    gemm = result["peak_gflops"]["gemm"]
    head = f"peak ({gemm}, same run): " + ", ".join(f"{p.upper()} {peak[p]:.0f}" for p in kinds) + " GFLOP/s\n\n"
    headers = ["model", "batch", "runs", "median", "x eager", "GFLOP/s", *(f"% {p.upper()} peak" for p in kinds),
               "max abs diff"]  # fmt: skip
    return head + rows_to_md(headers, rows)


def export(result: dict[str, Any]) -> str:
    rows = []
    for name, r in result["results"].items():
        for fmt, t in r.items():
            if isinstance(t, dict):
                cpu = f"{t['export_and_check_cpu_s']:.1f} s" if "export_and_check_cpu_s" in t else "-"
                size = f"{t['size_mb']:.0f} MiB"
                rows.append([name, fmt, f"{t['export_s']:.1f} s", f"{t['check_s']:.1f} s", cpu, size])
    return rows_to_md(["model", "format", "export", "check (parity / agreement)", "CPU time (both)", "size"], rows)


def serve(result: dict[str, Any]) -> str:
    rows = []
    for kind, configs in result["results"].items():
        base = configs["in process"]["requests_per_s"]
        for where, r in configs.items():
            rate = r["requests_per_s"]
            rows.append([kind, where, f"{rate:.1f}", f"{rate / base:.2f}x", f"{r['p50_ms']:.1f} ms", f"{r['p99_ms']:.1f} ms"])
    return rows_to_md(["request", "where", "requests/s", "x in process", "p50", "p99"], rows)


def main() -> None:
    variants = sorted(path.stem for path in RESULTS.glob("bundles_*.json"))  # other devices / thread counts
    renders = [("build", build), ("import", imports), ("bundles", bundles), *((v, bundles) for v in variants)]
    for name, render in [*renders, ("export", export), ("serve", serve)]:
        result = load(name)
        if result is None:
            print(f"<!-- {name}: no results yet (make bench) -->\n")
            continue
        setting = ""
        if "threads" in result:
            threads = result["threads"]
            spin = ", onnxruntime threads spinning" if result.get("spin") else ""
            setting = f" ({result['device']}, {threads} thread{'s' if threads != 1 else ''}{spin})"
        print(f"{name}{setting}: {machine_line(result)}\n")
        print(render(result) + "\n")


if __name__ == "__main__":
    main()
