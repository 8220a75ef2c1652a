"""``python -m modelver_export NAME --format ... --out DIR``: the same as ``modelver export``."""

import sys

from .cli import main

sys.exit(main())
