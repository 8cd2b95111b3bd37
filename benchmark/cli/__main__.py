"""``python -m benchmark.cli``: the ``gaitbench`` command (also what ``torchrun -m benchmark.cli`` runs)."""

import sys

from benchmark.cli import main

sys.exit(main())
