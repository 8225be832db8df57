"""One module per command group; each ``register``s its subcommands on the parser.

Each command reads its arguments, builds its settings in ``cli.context``, calls one
library step, hands the outcome to its presenter and returns an exit code.
"""

from perf_pipeline.cli.commands import github, history, judging, measuring

__all__ = ["GROUPS"]

#: In the order ``--help`` lists them.
GROUPS = (history, measuring, judging, github)
