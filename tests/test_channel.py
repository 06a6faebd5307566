"""The hand-over between the threads of video files and the live demo (fastnst/video/channel.py)."""

from __future__ import annotations

import threading
import time

import pytest

from fastnst.video.channel import Channel, Stage, Stopped


def test_a_live_camera_drops_the_frames_the_demo_has_no_time_for():
    mailbox = Channel(keep_all=False)
    for frame in range(5):
        mailbox.put(frame)           # the camera runs ahead of the stylizer
    assert mailbox.take(timeout=0.1) == 4 and mailbox.take(timeout=0.01) is None   # the newest, no backlog


def test_a_file_keeps_every_frame_in_order_and_a_full_channel_waits_for_room():
    frames = Channel(capacity=2)
    taken: list[int] = []

    def consume() -> None:
        time.sleep(0.2)  # the producer is ahead: its third put has to wait
        taken.extend(frames.take() for _ in range(4))

    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.perf_counter()
    for frame in range(4):
        frames.put(frame)
    consumer.join()
    assert taken == [0, 1, 2, 3] and time.perf_counter() - started >= 0.15


def test_an_end_marker_waits_its_turn_even_where_the_newest_wins():
    results = Channel(keep_all=False)
    results.put("frame")
    ender = threading.Thread(target=results.put, args=("end",), kwargs={"wait": True})
    ender.start()
    time.sleep(0.05)
    assert results.take(timeout=1) == "frame" and results.take(timeout=1) == "end"
    ender.join()


def test_stopping_ends_every_wait_and_a_stage_that_fails_stops_the_others():
    stop = threading.Event()
    waiting = Channel(stop=stop)
    waiter = Stage(waiting.take, stop, "waiter")
    failing = Stage(lambda: 1 / 0, stop, "failing")
    waiter.start()
    failing.start()
    failing.join(timeout=2)
    waiter.join(timeout=2)
    assert isinstance(failing.error, ZeroDivisionError) and stop.is_set()
    assert not waiter.is_alive() and waiter.error is None  # ended quietly
    with pytest.raises(Stopped):
        waiting.put("late")


def test_an_abandoned_channel_lets_puts_through():
    frames = Channel(capacity=1)
    frames.put(1)
    frames.abandon()
    frames.put(2)  # would wait forever for a taker that is gone
    assert list(frames.items) == [1, 2]
