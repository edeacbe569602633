"""`python -m topology`: run the topology once and exit non-zero on any loss."""

from __future__ import annotations

import sys

from topology.run import main

sys.exit(main(sys.argv[1:]))
