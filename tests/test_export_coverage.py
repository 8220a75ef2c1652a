"""Every format a builder claims to export to (``export.support_table()``, the README's table) has a parity test."""

from __future__ import annotations

import importlib

from conftest import ROOT
from export_helpers import FAMILY_TESTED, PARITY_TESTED
from modelver_export import support_table
from modelver_export.registry import format_names

from modelver import list_models


def test_every_supported_builder_and_format_has_a_parity_test() -> None:
    for path in sorted((ROOT / "tests").glob("test_export*.py")):
        importlib.import_module(path.stem)  # their parity_cases(...) record what they test
    table = list(support_table())
    assert sorted(name for name, _task, _support in table) == sorted(list_models())
    claimed = {(name, fmt) for name, _task, support in table for fmt in format_names() if support[fmt] is None}
    assert ("efficientnet_lite0", "onnx") in claimed and ("wavernn", "onnx") not in claimed
    # a builder of an exported family (test_export_family.py) inherits its family's parity tests
    inherited = {(name, fmt) for name, tested in FAMILY_TESTED.items() for t, fmt in PARITY_TESTED if t == tested}
    missing = sorted(claimed - PARITY_TESTED - inherited)
    assert not missing, f"supported formats without a parity test: {missing}"
