"""``python -m modelver_export.runtime BUNDLE INPUT...``: the same as ``modelver run``, without torch for ONNX."""

import sys

from .cli import main

sys.exit(main())
