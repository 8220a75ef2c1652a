"""What ``modelver info NAME`` shows about exporting, through the ``modelver.info`` entry point.

modelver never imports this package: its ``info`` command calls every function registered
in the ``modelver.info`` entry-point group with the builder's name and prints the lines it
returns. This one reads the support table (no torch, no exporter is imported).
"""

from __future__ import annotations

__all__ = ["info_lines"]


def info_lines(name: str) -> list[str]:
    """Which bundle formats ``name`` exports to (``modelver export NAME --format F``), and why not the others."""
    from .support import builder_support

    task, support = builder_support(name)
    supported = [fmt for fmt, reason in support.items() if reason is None]
    if supported:
        lines = [f"export: {', '.join(supported)} (task {task}; modelver export {name} --format {','.join(supported)})"]
    else:
        lines = ["export: no format"]
    why: dict[str, list[str]] = {}
    for fmt, reason in support.items():
        if reason is not None:
            why.setdefault(reason, []).append(fmt)
    lines += [f"  not {', '.join(formats)}: {reason}" for reason, formats in why.items()]
    return lines
