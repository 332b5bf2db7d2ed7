"""The replay clock's arithmetic with a fake time, and the lifecycle table (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicekit.errors import BadRequest
from trading_service.replay.clock import BARS_PER_SECOND, bars_due
from trading_service.sessions.lifecycle import ALLOWED, Action, action_for, check_action
from trading_service.sessions.models import SessionStatus, Speed

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("speed", "bars_per_second"),
    [("0.5x", 0.5), ("1x", 1), ("2x", 2), ("3x", 3), ("5x", 5), ("10x", 10), ("15x", 15)],
)
def test_speed_is_bars_per_second(speed: str, bars_per_second: float) -> None:
    """SPEC: bars are revealed at `speed` bars per second (0.5x = one bar per two seconds)."""
    assert float(BARS_PER_SECOND[speed]) == bars_per_second
    assert bars_due(T0, at(10), speed) == int(10 * bars_per_second)
    assert bars_due(T0, at(60), speed) == int(60 * bars_per_second)


def test_every_seed_speed_has_a_rate() -> None:
    assert set(BARS_PER_SECOND) == {s.value for s in Speed}


def test_half_speed_reveals_one_bar_per_two_seconds() -> None:
    assert bars_due(T0, at(1.999999), "0.5x") == 0
    assert bars_due(T0, at(2), "0.5x") == 1
    assert bars_due(T0, at(3.9), "0.5x") == 1
    assert bars_due(T0, at(4), "0.5x") == 2


def test_partial_bars_are_floored_exactly() -> None:
    """A bar is revealed only once its whole interval has elapsed (no float rounding up)."""
    assert bars_due(T0, at(0.066666), "15x") == 0
    assert bars_due(T0, at(1 / 15 + 1e-6), "15x") == 1
    assert bars_due(T0, at(0.999999), "1x") == 0
    assert bars_due(T0, at(1), "1x") == 1
    # Long runs stay exact: 100 hours at 15x.
    assert bars_due(T0, at(360_000), "15x") == 5_400_000


def test_clock_never_runs_backwards() -> None:
    """A `now` before the anchor (a waiter that read the clock early) reveals nothing."""
    assert bars_due(T0, at(-5), "15x") == 0
    assert bars_due(T0, T0, "15x") == 0


def test_same_inputs_same_answer_on_any_replica() -> None:
    """No ticker and no local state: the answer depends only on (anchor, now, speed)."""
    results = {bars_due(T0, at(7.25), "3x") for _ in range(5)}
    assert results == {21}


# --- the lifecycle table (seed 000) ---

SEED_TRANSITIONS = {
    ("DRAFT", "RUNNING"),  # start
    ("RUNNING", "PAUSED"),  # pause
    ("PAUSED", "RUNNING"),  # resume
    ("RUNNING", "COMPLETED"),  # stop
    ("PAUSED", "COMPLETED"),  # stop (SPEC 8: from RUNNING or PAUSED)
    ("COMPLETED", "ARCHIVED"),  # archive
}


def test_lifecycle_allows_exactly_the_seed_transitions() -> None:
    assert {(a.value, b.value) for a, b in ALLOWED} == SEED_TRANSITIONS


@pytest.mark.parametrize("current", [s.value for s in SessionStatus])
@pytest.mark.parametrize("target", [s.value for s in SessionStatus])
def test_put_status_follows_the_same_table(current: str, target: str) -> None:
    """SPEC 8: PUT session_status obeys exactly the lifecycle transition table."""
    if (current, target) in SEED_TRANSITIONS:
        action = action_for(current, target)
        assert check_action(action, current).value == target
    else:
        with pytest.raises(BadRequest, match="Invalid state transition"):
            action_for(current, target)


SEED_ACTIONS = {
    Action.START: ({"DRAFT"}, "RUNNING"),
    Action.PAUSE: ({"RUNNING"}, "PAUSED"),
    Action.RESUME: ({"PAUSED"}, "RUNNING"),
    Action.STOP: ({"RUNNING", "PAUSED"}, "COMPLETED"),
    Action.ARCHIVE: ({"COMPLETED"}, "ARCHIVED"),
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("current", [s.value for s in SessionStatus])
def test_lifecycle_actions_only_from_their_sources(action: Action, current: str) -> None:
    """Seed 000: start from DRAFT, pause from RUNNING, resume from PAUSED, stop from RUNNING or
    PAUSED, archive from COMPLETED; anything else is 400."""
    sources, target = SEED_ACTIONS[action]
    if current in sources:
        assert check_action(action, current).value == target
    else:
        with pytest.raises(BadRequest, match="Invalid state transition"):
            check_action(action, current)
