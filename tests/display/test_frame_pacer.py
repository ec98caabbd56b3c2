"""The dashboard's pacing on an injected clock: at most one frame per interval, fewer when
drawing is expensive."""

from __future__ import annotations

from sgl_notebook.display.frame_pacer import FramePacer
from tests.fixtures.waits import FakeClock


def test_one_frame_per_interval_at_most() -> None:
    clock = FakeClock(50.0)
    pacer = FramePacer(1.0, 0.05, clock=clock)  # the first frame was drawn at 50.0
    clock.now = 50.99
    assert not pacer.due()
    assert abs(pacer.sleep_for() - 0.05) < 1e-9  # never a busy loop
    clock.now = 51.0
    assert pacer.due()
    pacer.drawn(0.01)  # cheap: 0.002 s per frame on average, under 5% of a core at 1/s
    assert pacer.next_draw == 52.0 and not pacer.due()
    assert pacer.sleep_for() == 1.0


def test_expensive_frames_come_less_often() -> None:
    clock = FakeClock(50.0)
    pacer = FramePacer(1.0, 0.05, clock=clock)
    clock.now = 51.0
    pacer.drawn(1.0)  # a frame that cost a whole CPU second: average 0.2 s, so 4 s apart
    assert abs(pacer.cpu_per_frame - 0.2) < 1e-12
    assert abs(pacer.next_draw - 55.0) < 1e-9
    clock.now = 52.5
    assert not pacer.due()
    assert pacer.sleep_for() == 1.0  # still looks every interval (the servers are polled)
    clock.now = 54.9
    assert not pacer.due() and abs(pacer.sleep_for() - 0.1) < 1e-9
    clock.now = 55.0
    pacer.drawn(0.0)  # cheap again: the average decays, the gap comes back towards 1 s
    assert abs(pacer.next_draw - 55.0 - 0.16 / 0.05) < 1e-9
    for _ in range(20):
        clock.now = pacer.next_draw
        pacer.drawn(0.0)
    assert abs(pacer.next_draw - clock.now - 1.0) < 1e-9  # back to one frame per interval
