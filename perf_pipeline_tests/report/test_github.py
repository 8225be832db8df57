"""GitHubClient against a local HTTP server that plays the GitHub API (real sockets)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from perf_pipeline.errors import GitHubError, InvalidInputError
from perf_pipeline.report import MARKER, CommentResult, GitHubClient, prepare_comment_body
from perf_pipeline.report.github import TRUNCATION_NOTE
from perf_pipeline_tests.report.fake_github import TOKEN, Failure, FakeGitHub, serve

REPO = "octo/widgets"
PR = 42
REPORT = f"{MARKER}\n## Performance report\nno significant change\n"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours *_proxy variables; the fake server is on loopback.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as f:
        yield f


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(fake: FakeGitHub, sleeps: Sleeps | None = None, **kw) -> GitHubClient:
    return GitHubClient(fake.base_url, TOKEN, timeout=5.0,
                        sleep=sleeps if sleeps is not None else Sleeps(), **kw)


def test_creates_a_comment_when_none_of_ours_exists(fake: FakeGitHub) -> None:
    fake.add_comments(REPO, PR, ["LGTM", "please rebase"])
    result = make_client(fake).upsert_comment(REPO, PR, REPORT)

    assert result.action == "created"
    assert result.html_url.endswith(f"#issuecomment-{result.comment_id}")
    assert fake.methods() == ["GET", "POST"]
    post = fake.received[-1]
    assert post.path == f"/repos/{REPO}/issues/{PR}/comments"
    assert post.body == {"body": REPORT}
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["accept"] == "application/vnd.github+json"
    assert post.headers["x-github-api-version"] == "2022-11-28"
    assert post.headers["user-agent"]
    assert fake.received[0].query["per_page"] == ["100"]
    assert fake.bodies(REPO, PR) == ["LGTM", "please rebase", REPORT]


def test_second_call_updates_the_same_comment(fake: FakeGitHub) -> None:
    client = make_client(fake)
    first = client.upsert_comment(REPO, PR, REPORT)
    second = client.upsert_comment(REPO, PR, REPORT.replace("no significant", "one"))

    assert (first.action, second.action) == ("created", "updated")
    assert second.comment_id == first.comment_id
    assert fake.methods() == ["GET", "POST", "GET", "PATCH"]
    assert fake.received[-1].path == f"/repos/{REPO}/issues/comments/{first.comment_id}"
    assert fake.bodies(REPO, PR) == [REPORT.replace("no significant", "one")]


def test_finds_our_comment_on_the_third_page(fake: FakeGitHub) -> None:
    fake.add_comments(REPO, PR, [f"chatter {i}" for i in range(250)])
    [ours] = fake.add_comments(REPO, PR, [f"{MARKER}\nold report"], user=fake.author())
    fake.add_comments(REPO, PR, ["later chatter"] * 20)
    result = make_client(fake).upsert_comment(REPO, PR, REPORT)

    assert result == CommentResult("updated", ours, result.html_url)
    gets = [r for r in fake.received if r.method == "GET" and r.path.endswith("/comments")]
    assert [r.query.get("page", ["1"]) for r in gets] == [["1"], ["2"], ["3"]]
    assert "POST" not in fake.methods()
    assert fake.bodies(REPO, PR)[250] == REPORT
    assert len(fake.bodies(REPO, PR)) == 271


def test_a_quoted_marker_is_not_our_comment(fake: FakeGitHub) -> None:
    fake.add_comments(REPO, PR, [f"someone pasted {MARKER} in the middle"])
    assert make_client(fake).upsert_comment(REPO, PR, REPORT).action == "created"


def test_a_persons_comment_with_our_marker_is_never_edited(fake: FakeGitHub) -> None:
    """Someone pasted an old report (marker first): editing it would put our report under
    their name, for them to edit. With an Actions token only bot comments are ours."""
    [theirs] = fake.add_comments(REPO, PR, [f"{MARKER}\nmy fake all-clear"])
    result = make_client(fake).upsert_comment(REPO, PR, REPORT)
    assert result.action == "created" and result.comment_id != theirs
    assert fake.bodies(REPO, PR) == [f"{MARKER}\nmy fake all-clear", REPORT]
    assert [(r.method, r.path) for r in fake.received] == [
        ("GET", f"/repos/{REPO}/issues/{PR}/comments"), ("GET", "/user"),
        ("POST", f"/repos/{REPO}/issues/{PR}/comments")]


def test_another_bots_comment_with_our_marker_is_not_ours(fake: FakeGitHub) -> None:
    [theirs] = fake.add_comments(REPO, PR, [f"{MARKER}\nechoed by another app"],
                                 user={"login": "other-app[bot]", "type": "Bot"})
    result = make_client(fake).upsert_comment(REPO, PR, REPORT)
    assert result.action == "created" and result.comment_id != theirs
    assert fake.bodies(REPO, PR)[0] == f"{MARKER}\nechoed by another app"


def test_an_apps_token_finds_its_own_bot_comment(fake: FakeGitHub) -> None:
    [ours] = fake.add_comments(REPO, PR, [f"{MARKER}\nold"],
                               user={"login": "perf-app[bot]", "type": "Bot"})
    client = make_client(fake, bot_login="perf-app[bot]")
    assert client.upsert_comment(REPO, PR, REPORT).comment_id == ours


def test_with_a_personal_token_our_login_decides(fake: FakeGitHub) -> None:
    fake.user_login = "Alice"
    [ours] = fake.add_comments(REPO, PR, [f"{MARKER}\nold"],
                               user={"login": "alice", "type": "User"})
    fake.add_comments(REPO, PR, [f"{MARKER}\nnewer, by someone else"],
                      user={"login": "mallory", "type": "User"})
    client = make_client(fake)
    assert client.upsert_comment(REPO, PR, REPORT) == CommentResult(
        "updated", ours, client.upsert_comment(REPO, PR, REPORT).html_url)
    assert fake.bodies(REPO, PR) == [REPORT, f"{MARKER}\nnewer, by someone else"]
    assert sum(r.path == "/user" for r in fake.received) == 1  # asked once per client


def test_marker_is_added_when_the_body_lacks_it(fake: FakeGitHub) -> None:
    client = make_client(fake)
    client.upsert_comment(REPO, PR, "plain text")
    assert fake.bodies(REPO, PR) == [f"{MARKER}\nplain text"]
    assert client.upsert_comment(REPO, PR, "second").action == "updated"


def test_oversized_body_is_truncated_with_a_note(fake: FakeGitHub) -> None:
    body = REPORT + "".join(f"| row {i} | {'x' * 80} |\n" for i in range(2000))
    make_client(fake).upsert_comment(REPO, PR, body)
    [posted] = fake.bodies(REPO, PR)
    assert len(posted) <= 65_536
    assert posted.startswith(MARKER)
    assert posted.endswith(TRUNCATION_NOTE)
    assert prepare_comment_body(REPORT) == REPORT


def test_retries_a_500_and_then_succeeds(fake: FakeGitHub) -> None:
    fake.failures.append(Failure("GET", 500))
    sleeps = Sleeps()
    result = make_client(fake, sleeps, backoff_s=0.5).upsert_comment(REPO, PR, REPORT)
    assert result.action == "created"
    assert fake.methods() == ["GET", "GET", "POST"]
    assert sleeps == [0.5]


def test_gives_up_after_max_retries_on_persistent_500(fake: FakeGitHub) -> None:
    fake.always_fail = Failure("*", 503, message="unavailable")
    sleeps = Sleeps()
    with pytest.raises(GitHubError, match=r"503 for GET .* 4 times; giving up") as info:
        make_client(fake, sleeps, max_retries=3, backoff_s=1.0).upsert_comment(REPO, PR, REPORT)
    assert info.value.status == 503
    assert fake.methods() == ["GET"] * 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_failed_post_is_not_replayed_blindly(fake: FakeGitHub) -> None:
    # GitHub created the comment but the reply was lost (502): the retry must find it.
    fake.failures.append(Failure("POST", 502, apply=True))
    result = make_client(fake).upsert_comment(REPO, PR, REPORT)
    assert result.action == "updated"
    assert fake.methods() == ["GET", "POST", "GET", "PATCH"]
    assert fake.bodies(REPO, PR) == [REPORT]


def test_post_that_really_failed_is_sent_again(fake: FakeGitHub) -> None:
    fake.failures.append(Failure("POST", 500))
    assert make_client(fake).upsert_comment(REPO, PR, REPORT).action == "created"
    assert fake.methods() == ["GET", "POST", "GET", "POST"]
    assert fake.bodies(REPO, PR) == [REPORT]


def test_429_honours_retry_after(fake: FakeGitHub) -> None:
    fake.failures.append(Failure("GET", 429, headers={"Retry-After": "7"}))
    sleeps = Sleeps()
    make_client(fake, sleeps).upsert_comment(REPO, PR, REPORT)
    assert sleeps == [7.0]


@pytest.mark.parametrize("headers", [{"Retry-After": "nan"}, {"Retry-After": "soon"},
                                     {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "nan"}])
def test_an_unreadable_wait_falls_back_to_the_backoff(fake: FakeGitHub,
                                                      headers: dict[str, str]) -> None:
    # "nan" once became the delay itself, and time.sleep(nan) raises ValueError.
    fake.failures.append(Failure("GET", 429, headers=headers))
    sleeps = Sleeps()
    make_client(fake, sleeps, max_wait_s=30.0).upsert_comment(REPO, PR, REPORT)
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 30.0


def test_403_primary_rate_limit_waits_for_reset_capped(fake: FakeGitHub) -> None:
    reset = str(int(time.time()) + 3600)
    fake.failures.append(Failure("GET", 403, message="API rate limit exceeded",
                                 headers={"X-RateLimit-Remaining": "0",
                                          "X-RateLimit-Reset": reset}))
    sleeps = Sleeps()
    make_client(fake, sleeps, max_wait_s=30.0).upsert_comment(REPO, PR, REPORT)
    assert sleeps == [30.0]


@pytest.mark.parametrize("status", [403, 429])
def test_a_rate_limit_without_a_time_waits_a_minute(fake: FakeGitHub, status: int) -> None:
    """GitHub's secondary limit often names no time; its docs ask for at least a minute
    then. The client retried after 1, 2, 4, 8 s, each retry inside the same limit."""
    fake.failures.extend([Failure("GET", status, headers={"X-RateLimit-Remaining": "4990"},
                                  message="You have exceeded a secondary rate limit")] * 2)
    sleeps = Sleeps()
    assert make_client(fake, sleeps).upsert_comment(REPO, PR, REPORT).action == "created"
    assert sleeps == [60.0, 60.0]
    # Capped like every wait, so a CI job never sleeps for long.
    fake.failures.append(Failure("GET", status, message="secondary rate limit"))
    sleeps = Sleeps()
    make_client(fake, sleeps, max_wait_s=20.0).upsert_comment(REPO, PR, REPORT)
    assert sleeps == [20.0]


def test_403_secondary_rate_limit_with_retry_after(fake: FakeGitHub) -> None:
    fake.failures.append(Failure("PATCH", 403, headers={"Retry-After": "3"},
                                 message="You have exceeded a secondary rate limit"))
    fake.add_comments(REPO, PR, [REPORT], user=fake.author())
    sleeps = Sleeps()
    assert make_client(fake, sleeps).upsert_comment(REPO, PR, REPORT).action == "updated"
    assert sleeps == [3.0]
    assert fake.methods() == ["GET", "PATCH", "PATCH"]


@pytest.mark.parametrize(("status", "hint"), [
    (401, "valid, unexpired token"),
    (403, r"pull-requests: write"),
    (404, "repository name and the PR number"),
])
def test_auth_and_not_found_errors_are_clear_and_not_retried(
        fake: FakeGitHub, status: int, hint: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.failures.append(Failure("POST", status, message="Resource not accessible"))
    sleeps = Sleeps()
    client = make_client(fake, sleeps)
    with pytest.raises(GitHubError, match=hint) as info:
        client.upsert_comment(REPO, PR, REPORT)
    assert info.value.status == status
    assert f"returned {status}" in str(info.value)
    assert f"for POST /repos/{REPO}/issues/{PR}/comments" in str(info.value)
    assert "Resource not accessible" in str(info.value)
    assert sleeps == []
    assert fake.methods() == ["GET", "POST"]
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert TOKEN not in caplog.text


def test_a_422_says_why_github_refused(fake: FakeGitHub) -> None:
    """GitHub's 422 says "Validation Failed" and puts the reason in ``errors``; only the
    first words reached the user."""
    fake.failures.append(Failure("POST", 422, message="Validation Failed", errors=[
        {"resource": "IssueComment", "code": "custom", "field": "body",
         "message": "Body is too long (maximum is 65536 characters)"},
        {"resource": "IssueComment", "code": "missing_field", "field": "body"},
        f"token {TOKEN} echoed"]))
    client = make_client(fake, Sleeps())
    with pytest.raises(GitHubError, match="422") as info:
        client.upsert_comment(REPO, PR, REPORT)
    assert ("GitHub said: Validation Failed: Body is too long (maximum is 65536 "
            "characters); body: missing_field; token <redacted> echoed") in str(info.value)
    assert TOKEN not in str(info.value)


def test_wrong_token_gives_401(fake: FakeGitHub) -> None:
    client = GitHubClient(fake.base_url, "ghp_WRONG", sleep=Sleeps())
    with pytest.raises(GitHubError, match="401 Unauthorized for GET") as info:
        client.upsert_comment(REPO, PR, REPORT)
    assert "ghp_WRONG" not in str(info.value)


def test_token_never_in_repr_or_logs(fake: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(fake)
    fake.failures.append(Failure("GET", 500, message=f"echo {TOKEN}"))
    client.upsert_comment(REPO, PR, REPORT)
    assert TOKEN not in repr(client) and "redacted" in repr(client)
    assert caplog.records and TOKEN not in caplog.text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(client)


def test_redirects_are_not_followed(fake: FakeGitHub) -> None:
    fake.failures.append(Failure("GET", 301, headers={"Location": "http://127.0.0.1:9/x"}))
    with pytest.raises(GitHubError, match="redirect") as info:
        make_client(fake).upsert_comment(REPO, PR, REPORT)
    assert info.value.status == 301
    assert fake.methods() == ["GET"]


def test_pagination_to_another_host_is_refused(fake: FakeGitHub) -> None:
    fake.link_base = "http://other-host.invalid"
    fake.add_comments(REPO, PR, ["x"] * 150)
    with pytest.raises(GitHubError, match="another host"):
        make_client(fake).upsert_comment(REPO, PR, REPORT)
    assert fake.methods() == ["GET"]


def test_network_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    client = GitHubClient(f"http://127.0.0.1:{port}", TOKEN, max_retries=2, sleep=sleeps)
    with pytest.raises(GitHubError, match=r"network error on GET .* after 3 attempts") as info:
        client.upsert_comment(REPO, PR, REPORT)
    assert len(sleeps) == 2
    assert TOKEN not in str(info.value)


def test_github_enterprise_base_path() -> None:
    with serve(FakeGitHub(prefix="/api/v3")) as fake:
        client = make_client(fake)
        assert client.base_url.endswith("/api/v3")
        client.upsert_comment(REPO, PR, REPORT)
        result = client.upsert_comment(REPO, PR, REPORT)
    assert result.action == "updated"
    assert all(r.path.startswith(("/api/v3/repos/", "/api/v3/user")) for r in fake.received)
    assert any(r.path == "/api/v3/user" for r in fake.received)  # who-am-I on GHE too


@pytest.mark.parametrize(("repo", "pr", "match"), [
    ("widgets", 1, "OWNER/NAME"),
    ("octo/widgets/extra", 1, "OWNER/NAME"),
    ("octo/..", 1, "OWNER/NAME"),
    (REPO, 0, "positive integer"),
    (REPO, True, "positive integer"),
    (REPO, "7", "positive integer"),
])
def test_upsert_rejects_bad_targets(repo: str, pr: int, match: str) -> None:
    client = GitHubClient("https://api.github.com", TOKEN)
    with pytest.raises(InvalidInputError, match=match):
        client.upsert_comment(repo, pr, REPORT)


@pytest.mark.parametrize("url", ["ftp://x", "api.github.com", "", "https://h/api?x=1"])
def test_client_rejects_bad_base_urls(url: str) -> None:
    with pytest.raises(InvalidInputError, match="GitHub API URL"):
        GitHubClient(url, TOKEN)


@pytest.mark.parametrize("token", ["", "   ", "abc\ndef"])
def test_client_rejects_bad_tokens(token: str) -> None:
    with pytest.raises(InvalidInputError, match="token") as info:
        GitHubClient("https://api.github.com", token)
    assert "abc" not in str(info.value)
