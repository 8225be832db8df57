"""Post ``performance-report.md`` to a pull request: the commenting step.

The report file is only read, never moved or rewritten, so a failed post (bad token,
missing permission, GitHub down) still leaves the report for the artifact upload.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.report import (
    DEFAULT_API_URL,
    DEFAULT_BOT_LOGIN,
    CommentResult,
    GitHubClient,
)

__all__ = ["post_report_comment", "resolve_pr_number"]

logger = logging.getLogger(__name__)

_PULL_REF_RE = re.compile(r"^refs/pull/(\d+)/(?:merge|head)$")


def post_report_comment(
    report_path: Path,
    *,
    repo: str,
    pr_number: int,
    token: str,
    api_url: str = DEFAULT_API_URL,
    bot_login: str = DEFAULT_BOT_LOGIN,
) -> CommentResult:
    """Create or update our comment on ``repo``'s PR ``pr_number`` with the report."""
    report_path = Path(report_path)
    try:
        body = report_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInputError(f"report {report_path} does not exist: nothing to post "
                                f"(did the report step run?)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"report {report_path} cannot be read: {exc}") from exc
    if not body.strip():
        raise InvalidInputError(f"report {report_path} is empty: nothing to post")
    client = GitHubClient(api_url, token, bot_login=bot_login)
    return client.upsert_comment(repo, pr_number, body)


def resolve_pr_number(*, event_path: str | None, ref: str | None) -> int:
    """The PR number of a GitHub Actions run, from its event payload or its ref.

    Actions sets ``GITHUB_EVENT_PATH`` to the webhook payload (``pull_request.number``
    on ``pull_request`` events) and ``GITHUB_REF`` to ``refs/pull/N/merge``.
    """
    if event_path:
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("cannot read the event payload %s: %s", event_path, exc)
        else:
            pull = event.get("pull_request") if isinstance(event, dict) else None
            number = pull.get("number") if isinstance(pull, dict) else None
            if isinstance(number, int) and not isinstance(number, bool) and number > 0:
                return number
    match = _PULL_REF_RE.match(ref or "")
    if match:
        return int(match.group(1))
    raise InvalidInputError(
        "no pull request number: pass --pr N, or run on a pull_request event "
        "(GITHUB_EVENT_PATH with pull_request.number, or GITHUB_REF=refs/pull/N/merge)")
