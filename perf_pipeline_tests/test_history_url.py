"""History store URLs (``history_url.py``): a password never shows."""

from __future__ import annotations

import pytest

from perf_pipeline.history_url import mask_url


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://perf:p%40ss:w@db.example:5432/h", "postgresql://perf:***@db.example:5432/h"),
    ("postgresql://perf@db/h", "postgresql://perf@db/h"),  # no password: nothing to hide
    ("postgresql://db/h?sslmode=require", "postgresql://db/h?sslmode=require"),
    ("/srv/perf/perf_history.db", "/srv/perf/perf_history.db"),
    # A "/" in the password once ended the host part early and printed it whole.
    ("postgres+asyncpg://admin:Xy/9secret@db.example/perf",
     "postgres+asyncpg://admin:***@db.example/perf"),
    ("postgresql://u:a/b@c@db/h", "postgresql://u:***@db/h"),
    ("postgresql://db/h?sslmode=require&password=s3cret", "postgresql://db/h?sslmode=require&password=***"),
])
def test_mask_url_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked
