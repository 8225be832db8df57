"""The target's interpreter for each runner, and the preparation of a worktree.

Runners (``Settings.runner``):

- ``"current"``: this interpreter, with our plugin imported from this package.
- ``"uv"``: ``uv run --project <project> <uv_args> --with pytest-benchmark --with psutil
  python``, i.e. the target's own uv project at the measured commit. ``uv_args`` choose
  groups, extras or a Python: ``["--group", "test", "--all-extras"]``.
- ``"command"``: ``runner_command`` is the argv that starts the target's Python, e.g.
  ``["hatch", "run", "bench:python"]``, ``["poetry", "run", "python"]`` or
  ``["{worktree}/.venv/bin/python"]``. It runs with no shell; pytest's arguments follow
  it. Its environment must provide pytest and pytest-benchmark (a missing one is
  reported with the fix, see ``suite_failure.missing_plugin_hint``).
- ``"venv"``: a virtual environment built with uv from the project's
  ``requirements*.txt`` (or ``pyproject.toml``), cached per dependency set
  (``measure/venvs.py``); an installable target (``setup.py``, or a ``pyproject.toml``
  with ``[project]`` or ``[build-system]``) is installed per worktree, without
  dependencies, into a directory of its own that goes on ``PYTHONPATH``.

For every runner but "current" our plugin is staged into a temporary package
(``plugin_staging.stage_plugin``) and put on ``PYTHONPATH``, so the target's environment needs
neither perf_pipeline nor its dependencies.

``setup`` commands run in the project directory before the first measurement of a
worktree (e.g. ``[["python", "setup.py", "build_ext", "--inplace"]]``), each within
``setup_timeout_s``, with no shell. Their output (and that of an environment build) is
appended to ``<results>/setup/<sha>.log``; only the logs of the ``KEEP_SETUP_LOGS``
commits prepared last are kept (one per commit ever prepared piled up for ever; a failed
run keeps its log's tail in its error anyway). A failure is not an exception: the run is
recorded as failed, with the log's tail in its error. A worktree remembers that it was
prepared (a stamp in git's private directory of that worktree, which goes away with
it), unless the setup left untracked files that git does not ignore: reusing a worktree
cleans those, so the setup runs again.

Placeholders, in ``runner_command`` and ``setup`` arguments (anything else in braces is
an error, so a typo does not reach a program as a literal):

- ``{worktree}``: the commit's checkout (the repository root at that commit);
- ``{project}``: the project directory inside it, where pytest runs;
- ``{sha}``: the full commit SHA;
- ``{python}``: the interpreter of the run ("current": this one; "venv": the
  environment's); not available for "uv" and "command";
- ``{results}``: the results directory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.commands import run_logged
from perf_pipeline.measure.git import is_full_sha, run_git
from perf_pipeline.measure.venvs import ensure_venv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["KEEP_SETUP_LOGS", "PLACEHOLDERS", "PreparedWorktree", "expand_placeholders",
           "prepare_worktree"]

logger = logging.getLogger(__name__)

#: The placeholders ``runner_command`` and ``setup`` arguments may use.
PLACEHOLDERS = ("worktree", "project", "sha", "python", "results")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STAMP = "perf_pipeline_prepared.json"
_TARGET_DIR = "perf_pipeline_target"
#: Setup logs kept, of the commits prepared most recently (a log is written only when a
#: worktree is prepared: a new commit, or setup that left untracked files).
KEEP_SETUP_LOGS = 50


@dataclass(frozen=True, slots=True)
class PreparedWorktree:
    """How to start the target's Python in a prepared worktree, or why it cannot be.

    ``interpreter`` is the argv prefix for runners "command" and "venv" (empty for the
    others); ``env`` the variables the suite needs on top (the installed target's
    directory on ``PYTHONPATH``, the environment's ``bin`` on ``PATH``). ``error`` is set
    when the preparation failed; ``log_path`` holds its output.
    """

    interpreter: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    log_path: Path | None = None


def expand_placeholders(argv: Sequence[str], values: Mapping[str, str | None], *,
                        what: str) -> tuple[str, ...]:
    """``argv`` with every ``{name}`` replaced; unknown or unavailable names are errors."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            raise InvalidInputError(
                f"{what}: unknown placeholder {{{name}}} in {list(argv)!r}; "
                f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        value = values.get(name)
        if value is None:
            raise InvalidInputError(
                f"{what}: placeholder {{{name}}} is not available with this runner")
        return value

    return tuple(_PLACEHOLDER_RE.sub(one, str(arg)) for arg in argv)


def _is_installable(project_dir: Path) -> bool:
    if (project_dir / "setup.py").is_file():
        return True
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return False  # the build would fail too; the suite's own import errors say more
    return "project" in data or "build-system" in data


def _git_private_dir(worktree: Path) -> Path:
    """Git's directory of this worktree: untouched by ``git clean``, removed with it."""
    out = run_git(worktree, ["rev-parse", "--absolute-git-dir"]).stdout.strip()
    return Path(out)


def _untracked(worktree: Path) -> list[str]:
    proc = run_git(worktree, ["ls-files", "--others", "--exclude-standard"], check=False)
    return [line for line in proc.stdout.splitlines() if line.strip()]


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    return env


def _uv() -> str:
    uv = shutil.which("uv")
    if not uv:
        raise InvalidInputError("runner 'venv' needs the uv executable on PATH")
    return uv


def prepare_worktree(settings: Settings, worktree: Path, sha: str) -> PreparedWorktree:
    """Make the worktree of ``sha`` ready to measure with ``settings.runner``.

    Cheap when nothing is to do (runner "current" or "uv" without setup commands) and
    when the worktree was prepared before with the same recipe. Raises
    ``InvalidInputError`` for bad settings (an unknown placeholder, no uv); a failing
    command or build is returned as ``PreparedWorktree.error``.
    """
    project_dir = worktree / settings.project_subdir
    values: dict[str, str | None] = {
        "worktree": str(worktree), "project": str(project_dir), "sha": sha,
        "results": str(Path(settings.results_dir).resolve()),
        "python": sys.executable if settings.runner == "current" else None,
    }
    interpreter: tuple[str, ...] = ()
    env: dict[str, str] = {}
    log_path = Path(settings.layout.setup_log_path(sha)).resolve()
    if settings.runner == "command":
        interpreter = expand_placeholders(settings.runner_command, values,
                                          what="runner_command")
    if settings.runner != "venv" and not settings.setup:
        return PreparedWorktree(interpreter=interpreter, env=env)
    child_env = _base_env()
    venv_key = None
    if settings.runner == "venv":
        # An environment in use is spared while a suite may still run in it: the
        # target's install and the setup commands, then the suite, each within its limit.
        in_use_s = (len(settings.setup) + 1) * settings.setup_timeout_s + settings.suite_timeout_s
        build = ensure_venv(project_dir, cache_dir=settings.envs_dir, uv=_uv(),
                            python=settings.venv_python, install_args=settings.uv_args,
                            env=child_env, timeout_s=settings.setup_timeout_s,
                            log_path=log_path, keep_envs=settings.keep_envs,
                            in_use_s=in_use_s)
        if build.error is not None:
            return PreparedWorktree(error=build.error, log_path=log_path)
        venv_key = build.key
        values["python"] = str(build.python)
        interpreter = (str(build.python),)
        env = {"VIRTUAL_ENV": str(build.path),
               "PATH": os.pathsep.join([str(build.python.parent), os.environ.get("PATH", "")])}
        child_env.update(env)
    commands = tuple(expand_placeholders(c, values, what=f"setup command {i}")
                     for i, c in enumerate(settings.setup, start=1))
    private = _git_private_dir(worktree)
    target = private / _TARGET_DIR
    install_target = settings.runner == "venv" and _is_installable(project_dir)
    if install_target:
        env["PYTHONPATH"] = str(target)
    recipe = {"sha": sha, "runner": settings.runner, "setup": [list(c) for c in commands],
              "venv": venv_key, "target": install_target}
    stamp = private / _STAMP
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == recipe:
            return PreparedWorktree(interpreter=interpreter, env=env, log_path=log_path)
    except (OSError, ValueError):
        pass  # not prepared yet (or a stamp from an older recipe)
    stamp.unlink(missing_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n=== preparing {sha} ({settings.runner}) at "
                  f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} ===\n")
    _prune_setup_logs(log_path.parent, keep=KEEP_SETUP_LOGS)
    steps = [(argv, f"setup command {i} of {len(commands)}")
             for i, argv in enumerate(commands, start=1)]
    if install_target:
        shutil.rmtree(target, ignore_errors=True)
        steps.append(((_uv(), "pip", "install", "--python", interpreter[0], "--no-deps",
                       "--target", str(target), str(project_dir)), "installing the target"))
    for argv, what in steps:
        result = run_logged(argv, cwd=project_dir, env=child_env,
                            timeout_s=settings.setup_timeout_s, log_path=log_path, what=what)
        if not result.ok:
            return PreparedWorktree(error=result.error, log_path=log_path)
    left = _untracked(worktree)
    if left:
        logger.info("setup of %s left %d untracked file(s) git does not ignore (%s...): "
                    "they are cleaned when the worktree is reused, so setup runs again",
                    sha[:12], len(left), left[0])
    else:
        stamp.write_text(json.dumps(recipe), encoding="utf-8")
    return PreparedWorktree(interpreter=interpreter, env=env, log_path=log_path)


def _prune_setup_logs(folder: Path, *, keep: int) -> None:
    """Delete all but the ``keep`` most recently written commit logs in ``folder``.

    Preparing runs under the measuring lock, so no other preparation is writing here;
    the log just begun is the newest, never one of those deleted.
    """
    dated = []
    for log in folder.glob("*.log"):
        if not is_full_sha(log.stem):
            continue  # not a commit's log of ours
        try:
            dated.append((log.stat().st_mtime, log))
        except OSError:
            continue  # gone meanwhile
    for _, log in sorted(dated, reverse=True)[keep:]:
        log.unlink(missing_ok=True)
