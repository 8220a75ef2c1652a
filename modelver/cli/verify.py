"""`modelver verify`: recompute the output fingerprints of released weights and compare."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..errors import ModelverError


def cmd_verify(args: argparse.Namespace) -> int:
    from .. import fingerprint

    if args.update:
        if not args.names:
            raise ModelverError("--update needs the builder names whose fingerprints change, e.g. `--update resnet50`.")
        for key in fingerprint.update(args.names, args.reason or ""):
            print(f"updated  {key}")
        print(f"recorded in {fingerprint.FINGERPRINTS} with the reason; commit it with the change.")
        return 0
    start = time.perf_counter()
    results = fingerprint.verify(args.names or None)
    width = max((len(r.key) for r in results), default=10)
    print(f"{'entry':<{width}}  status   detail")
    for r in results:
        detail = f"largest difference {r.difference:.3g} at {r.detail}" if r.status == "changed" else r.detail
        print(f"{r.key:<{width}}  {r.status:<7}  {detail}")
    bad = [r for r in results if r.status in ("changed", "new")]
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "changed", "new", "skipped")}
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" ({time.perf_counter() - start:.1f} s)")
    if bad:
        print(
            "A released entry must keep meaning what it meant: add a new weights entry, keep the old default with "
            "ContextParams, or add a *_v2 builder (README, 'Changing a model'). If the change is intended: "
            "modelver verify --update NAME --reason '...'."
        )
        return 1
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="recompute weights entries' output fingerprints and compare with the recorded ones")
    p.add_argument("names", nargs="*", help="builders to check (default: all)")
    p.add_argument("--update", action="store_true", help="record new fingerprints for NAMES (needs --reason)")
    p.add_argument("--reason", help="why the fingerprints change (kept in the file's history)")
    p.set_defaults(func=cmd_verify)
