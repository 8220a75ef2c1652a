"""Import and first call: `import modelver; modelver.list_models()` and `modelver list` vs `import torch`.

Each command runs in a fresh interpreter, interleaved, and the median wall time is compared
with `python -c "import torch"` measured in the same run. Target: <= 1.15x.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, save, table

CASES = {
    "import torch (baseline)": [sys.executable, "-c", "import torch"],
    "import modelver; list_models()": [sys.executable, "-c", "import modelver; modelver.list_models()"],
    "get_weight('EfficientNet_Lite0_Weights.DEFAULT')": [
        sys.executable, "-c", "import modelver; modelver.get_weight('EfficientNet_Lite0_Weights.DEFAULT')",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats: a rough figure, faster")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 3
    cases = dict(CASES)
    cli = shutil.which("modelver", path=str(Path(sys.executable).parent))
    if cli:
        cases["modelver list (console script)"] = [cli, "list"]
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(args.repeat + 1):  # the first round warms the OS file cache and is dropped
        for name, command in cases.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
            if i:
                samples[name].append(time.perf_counter() - start)
    base = statistics.median(samples["import torch (baseline)"])
    rows = []
    for name, values in samples.items():
        med = statistics.median(values)
        rows.append([name, med, med / base])
    print(f"Import and first call, median of {args.repeat} fresh interpreters\n")
    print(table(["command", "median s", "x import torch"], rows))
    save("import", {"repeat": args.repeat, "results": {r[0]: {"median_s": r[1], "ratio": r[2]} for r in rows}})


if __name__ == "__main__":
    main()
