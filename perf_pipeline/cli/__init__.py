"""The ``perf-pipeline`` command.

- ``app``: ``main`` parses, runs one command and returns its exit code;
- ``exits``: the exit codes, and the one place errors and signals are mapped to them
  (0 ok, 1 significant regression, 2 bad usage or input, 3 internal error with a crash
  log, 128 + N on signal N);
- ``context``: the one place flags become settings and the history store is opened;
- ``options``: options several commands share;
- ``commands/``: one module per command group;
- ``present/``: one presenter per outcome (text for people, ``--json`` for machines);
- ``console``: stdout/stderr consoles, escaping of untrusted text, progress bars.
"""

from perf_pipeline.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
