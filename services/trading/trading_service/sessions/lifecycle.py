"""The session lifecycle (seed 000): the only status changes there are, by action.

Both the lifecycle endpoints and `PUT session_status` go through this one table (SPEC 8).
"""

from __future__ import annotations

from enum import StrEnum

from servicekit.errors import BadRequest

from .models import SessionStatus as S


class Action(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    ARCHIVE = "archive"


# action -> (statuses it may leave, status it reaches)
TRANSITIONS: dict[Action, tuple[frozenset[S], S]] = {
    Action.START: (frozenset({S.DRAFT}), S.RUNNING),
    Action.PAUSE: (frozenset({S.RUNNING}), S.PAUSED),
    Action.RESUME: (frozenset({S.PAUSED}), S.RUNNING),
    Action.STOP: (frozenset({S.RUNNING, S.PAUSED}), S.COMPLETED),
    Action.ARCHIVE: (frozenset({S.COMPLETED}), S.ARCHIVED),
}

# Where the clock runs and trading happens, and where a replay is over.
STARTED: frozenset[S] = frozenset({S.RUNNING, S.PAUSED})
FINISHED: frozenset[S] = frozenset({S.COMPLETED, S.ARCHIVED})

ALLOWED: frozenset[tuple[S, S]] = frozenset(
    (src, dst) for sources, dst in TRANSITIONS.values() for src in sources
)

_REQUIREMENT = {
    Action.START: "only a DRAFT session can be started",
    Action.PAUSE: "session is not running",
    Action.RESUME: "session is not paused",
    Action.STOP: "only a RUNNING or PAUSED session can be stopped",
    Action.ARCHIVE: "session is not completed",
}


class InvalidTransition(BadRequest):
    code = "INVALID_STATE_TRANSITION"


def check_action(action: Action, current: str) -> S:
    """The status `action` leads to from `current`, or 400 naming both."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise InvalidTransition(
            f"Invalid state transition: cannot {action.value} a {current} session "
            f"({_REQUIREMENT[action]})"
        )
    return target


def action_for(current: str, target: str) -> Action:
    """The action that moves `current` to `target` (for `PUT session_status`), or 400."""
    for action, (sources, dst) in TRANSITIONS.items():
        if dst == target and current in sources:
            return action
    allowed = sorted(dst.value for src, dst in ALLOWED if src == current)
    hint = f"allowed from {current}: {', '.join(allowed)}" if allowed else f"{current} is final"
    raise InvalidTransition(
        f"Invalid state transition: session_status cannot change from {current} to {target} "
        f"({hint})"
    )
