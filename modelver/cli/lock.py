"""`modelver lock`: pin builders' weights in a lock file, move pins on purpose, check that they hold."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_lock(args: argparse.Namespace) -> int:
    from ..lockfile import _commands

    if args.remove:
        if args.check or args.upgrade:
            raise ValueError("--remove takes builder names and nothing else: run --check or --upgrade after it.")
        result = _commands.remove_pins(args.file, args.names)
        print(result)
        print(f"wrote {result.path}")
        return 0
    if args.check:
        if args.upgrade:
            raise ValueError("--check and --upgrade do different things: run one, then the other.")
        report = _commands.check_lock(args.file, args.names)
        print(report)
        return 0 if report.ok else 1
    result = _commands.write_lock(args.file, args.names, upgrade=args.upgrade, progress=True)
    print(result)
    print(f"{'wrote' if result.changed else 'unchanged:'} {result.path}")
    return 0


def register(sub: Any) -> None:
    from ..lockfile._format import DEFAULT_FILE

    p = sub.add_parser(
        "lock",
        help="pin weights (entry, file sha256, hf commit, output fingerprint) in a lock file; --check, --upgrade, --remove",
        description="Pin each builder's weights entry in a lock file, so that an upgrade of modelver never "
        "silently changes what a deployment loads. Apply it with MODELVER_LOCK=FILE or modelver.use_lock(FILE).",
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME[=ENTRY]",
        help="builders to pin (default entry: the one already pinned, else DEFAULT); none: every builder in the file",
    )
    p.add_argument("--file", default=DEFAULT_FILE, help=f"the lock file (default: ./{DEFAULT_FILE})")
    p.add_argument("--upgrade", action="store_true", help="move the pins of NAMES (default: all) to today's DEFAULT")
    p.add_argument("--remove", action="store_true", help="drop the pins of NAMES from the file (nothing is fetched)")
    p.add_argument("--check", action="store_true", help="exit 0 if every pin still holds, 1 otherwise, listing differences")
    p.set_defaults(func=cmd_lock)
