"""Timing helpers of the benchmarks."""

from __future__ import annotations

import time

from benchmarks.common import time_call


def test_time_call_runs_setup_before_every_call_outside_the_timing():
    order = []

    def setup():
        order.append("setup")
        time.sleep(0.05)  # not charged to the call

    def call():
        order.append("call")
        return len(order)

    timing = time_call(call, 3, setup=setup)
    assert order == ["setup", "call"] * 3
    assert timing.result == 6
    assert max(timing.times) < 0.04
