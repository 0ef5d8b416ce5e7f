"""BodyWatch: the --body-read-timeout of every request body on one timer (deterministic clock)."""

from __future__ import annotations

from twisted.internet.task import Clock

from daphne._asgi.body_watch import BodyWatch


class Body:
    """A watched body that records when it was told it stalled."""

    def __init__(self, clock: Clock, excused: int = 0) -> None:
        self.clock = clock
        self.stalls: list[float] = []
        self.excused = excused  # how many stalls to answer "paused, watch on"
        self.on_stall = lambda: None

    def body_stalled(self, now: float) -> bool:
        assert now == self.clock.seconds()
        self.stalls.append(now)
        self.on_stall()
        if self.excused:
            self.excused -= 1
            return True
        return False


def test_many_bodies_share_one_timer_and_stall_at_their_own_deadlines() -> None:
    clock = Clock()
    watch = BodyWatch(clock, 10)
    bodies = []
    for _ in range(5):
        body = Body(clock)
        watch.watch(body)
        bodies.append(body)
        clock.advance(1)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(5)  # t=10: the first one's deadline
    assert [b.stalls for b in bodies] == [[10], [], [], [], []]
    for expected in (11, 12, 13, 14):
        clock.advance(1)
        assert bodies[expected - 10].stalls == [expected]
    assert len(watch) == 0
    assert clock.getDelayedCalls() == []


def test_progress_restarts_a_body_wait() -> None:
    clock = Clock()
    watch = BodyWatch(clock, 2)
    body = Body(clock)
    watch.watch(body)
    clock.advance(1.5)
    watch.progress(body)
    clock.advance(1.5)  # 3 s since watched, 1.5 s since the progress
    assert body.stalls == []
    clock.advance(0.5)
    assert body.stalls == [3.5]


def test_a_forgotten_body_is_never_asked_and_the_timer_rearms_for_the_next() -> None:
    clock = Clock()
    watch = BodyWatch(clock, 10)
    first, second = Body(clock), Body(clock)
    watch.watch(first)
    clock.advance(4)
    watch.watch(second)
    watch.forget(first)
    clock.advance(6)  # t=10: first's deadline, but it is gone
    assert first.stalls == [] and second.stalls == []
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(4)
    assert second.stalls == [14]
    watch.forget(second)  # forgetting twice is harmless
    assert len(watch) == 0


def test_an_excused_stall_is_watched_on_from_then() -> None:
    """A paused body (the app is behind) answers True: its wait restarts at the check."""
    clock = Clock()
    watch = BodyWatch(clock, 2)
    body = Body(clock, excused=2)
    watch.watch(body)
    clock.advance(2)
    clock.advance(2)
    clock.advance(1.9)
    assert body.stalls == [2, 4]
    clock.advance(0.1)
    assert body.stalls == [2, 4, 6]
    assert len(watch) == 0


def test_a_verdict_that_forgets_or_watches_others_keeps_one_timer() -> None:
    """A 408 may end other bodies (their connection closes) or start new ones."""
    clock = Clock()
    watch = BodyWatch(clock, 5)
    first, doomed, later = Body(clock), Body(clock), Body(clock)
    watch.watch(first)
    watch.watch(doomed)

    def verdict() -> None:
        watch.forget(doomed)
        watch.watch(later)

    first.on_stall = verdict
    clock.advance(5)
    assert first.stalls == [5] and doomed.stalls == []
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(5)
    assert later.stalls == [10] and doomed.stalls == []
    assert clock.getDelayedCalls() == []


def test_a_verdict_that_raises_leaves_the_other_bodies_watched() -> None:
    clock = Clock()
    watch = BodyWatch(clock, 5)
    broken, other = Body(clock), Body(clock)
    watch.watch(broken)
    clock.advance(1)
    watch.watch(other)

    def fail() -> None:
        raise RuntimeError("bug")

    broken.on_stall = fail
    try:
        clock.advance(4)
    except RuntimeError:
        pass
    assert broken.stalls == [5] and len(watch) == 1
    clock.advance(1)
    assert other.stalls == [6]
