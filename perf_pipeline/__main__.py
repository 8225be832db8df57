"""``python -m perf_pipeline`` runs the CLI."""

import sys

from perf_pipeline.cli import main

sys.exit(main())
