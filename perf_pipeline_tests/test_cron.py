"""The nightly cron and time zone are refused when settings load, as Dagster would refuse
them when the definitions load (there: the whole code location fails)."""

from __future__ import annotations

import pytest
from dagster._utils.schedules import is_valid_cron_string

from perf_pipeline.config import load_settings
from perf_pipeline.cron import check_cron, check_timezone
from perf_pipeline.errors import InvalidInputError

CRONS = ["0 2 * * *", "*/15 * * * *", "0 0 1,15 * MON-FRI", "0 0 L * *", "0 0 * * 1#2",
         "@daily", "@weekly", "0 0 * jan-mar *", "0 0 * * sun", "5-1 * * * *", "1-5/2 * * * *",
         "0 0 * * 7", "* * * * ?", "x", "every night", "60 * * * *", "0 24 * * *",
         "0 0 0 * *", "0 0 32 * *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *", "0 2 * * * *",
         "0 2 * *", "0 0 30 2 *", "0 0 31 feb *", "@every 5m", "0 0 * * 5L", "", "0 2 * * -1",
         # an n-th weekday listed with other days (croniter refuses most such mixes; the
         # first one once passed here and failed the whole code location's load)
         "0 2 * * 1#2,3", "0 2 * * 3,1#2", "0 2 * * 1#2,7", "0 2 * * 1#2,*/2",
         "0 2 * * 1#2,?", "0 2 * * 1#2,1,2", "0 2 * * 1#2,1", "0 2 * * 0#2,7",
         "0 2 * * 1#2,1#4", "0 2 * * 1#2,*", "0 2 * * 1#2,0-6", "0 2 * * 1#2,2-1",
         "0 2 * * 1#2,mon", "0 2 * * 1#2,0,2,3,4,5,6",
         # "?" in a list (once passed here, then failed the code location's load)
         "0 2 * * ?,3", "0 2 ?,1 * *", "0 2 * * 3,?", "0 2 ? * 1",
         # croniter counts a "*" listed beside n-th weekdays as one item, not every day
         "0 2 * * 1#2,*,2-4", "0 2 * * 1#2,*,0-6"]


@pytest.mark.parametrize("cron", CRONS)
def test_a_cron_is_refused_exactly_when_dagster_would_refuse_it(cron: str) -> None:
    if is_valid_cron_string(cron):
        check_cron("nightly_cron", cron)
    else:
        with pytest.raises(InvalidInputError, match="nightly_cron"):
            check_cron("nightly_cron", cron)


@pytest.mark.parametrize("name", ["Mars/Phobos", "", "../etc/passwd", "UTC "])
def test_an_unknown_time_zone_is_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidInputError, match="nightly_timezone must be an IANA time zone"):
        check_timezone("nightly_timezone", name)
    check_timezone("nightly_timezone", "Europe/Berlin")


def test_settings_refuse_a_bad_nightly_schedule_from_the_environment() -> None:
    with pytest.raises(InvalidInputError, match="hour field '25'"):
        load_settings(environ={"PERF_PIPELINE_NIGHTLY_CRON": "0 25 * * *"})
    with pytest.raises(InvalidInputError, match="'Mars/Phobos'"):
        load_settings(environ={"PERF_PIPELINE_NIGHTLY_TIMEZONE": "Mars/Phobos"})


#: Crons Dagster loads; those naming a day of month none of their months has never tick.
LOADABLE = ["0 2 31 4 *", "0 2 31 apr,jun *", "0 2 30,31 2 *", "0 2 31 2-4/2 *",
            "0 2 31 4 1", "0 2 31 4,5 *", "0 2 29 2 *", "0 2 30 4 *", "0 2 L 4 *",
            "0 2 31 */2 *", "0 2 31 11-2 *", "0 2 31 9/2 *",
            # only n-th weekdays: croniter wants the day of month as well
            "0 2 20 * 1#2", "0 2 20-21 * 1#2", "0 2 L * 1#2", "0 2 1-7 * 3#5",
            "0 2 8-14 * 1#2", "0 2 L * 3#5", "0 2 * * 1#2,*", "0 2 20 * 1#2,*"]


@pytest.mark.parametrize("cron", LOADABLE)
def test_a_cron_whose_schedule_never_ticks_is_refused(cron: str) -> None:
    """31 April once passed the settings and Dagster's load; then every evaluation of the
    nightly schedule failed (croniter: "failed to find prev date") and it never ran."""
    import time

    from dagster._utils.schedules import schedule_execution_time_iterator

    assert is_valid_cron_string(cron)
    try:
        next(schedule_execution_time_iterator(time.time(), cron, "UTC"))
    except Exception:  # any failure: the schedule never runs
        with pytest.raises(InvalidInputError, match="so the schedule would never run"):
            check_cron("nightly_cron", cron)
    else:
        check_cron("nightly_cron", cron)
