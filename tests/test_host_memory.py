"""Frames and layers reuse host memory while a CPU stylizer runs, instead of faulting in fresh
pages for every large tensor; the memory goes back to the system when stylizing ends."""

import json
import resource
import subprocess
import sys

import pytest
import torch

from fastnst import host_memory
from fastnst.host_memory import keep_host_memory
from fastnst.inference import FastStylizer

from .helpers import ROOT, contrasty_net

pytestmark = pytest.mark.skipif(host_memory._glibc() is None, reason="needs glibc (Linux)")

BLOCK = 64 * 2**20  # a 16-channel fp32 feature map at 1024 x 1024


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_per_block(count: int) -> list[int]:
    """Page faults of allocating and filling a 64 MB tensor, `count` times in a row."""
    faults = []
    for _ in range(count):
        before = page_faults()
        torch.empty(BLOCK // 4).fill_(1.0)
        faults.append(page_faults() - before)
    return faults


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def faults_in_new_processes() -> dict[bool, list[int]]:
    """faults_per_block(12) in a new Python process, within keep_host_memory() (True) and not (False):
    a heap that no earlier test has shaped (a big free chunk left in the middle of it would serve a
    block too). Both processes run at once: their start (importing fastnst) is most of the time."""
    def start(keep: bool) -> subprocess.Popen:
        code = ("import json, contextlib\n"
                "from fastnst.host_memory import keep_host_memory\n"
                "from tests.test_host_memory import faults_per_block\n"
                f"with keep_host_memory() if {keep} else contextlib.nullcontext():\n"
                "    print(json.dumps(faults_per_block(12)))\n")
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    faults = {}
    for keep, child in [(keep, start(keep)) for keep in (False, True)]:
        out, err = child.communicate()
        assert child.returncode == 0, err
        faults[keep] = json.loads(out.splitlines()[-1])
    return faults


def test_a_freed_block_is_reused_without_page_faults_while_kept():
    pages = BLOCK // resource.getpagesize()
    faults = faults_in_new_processes()
    assert min(faults[False]) > pages // 2  # glibc's default: every big block is fresh pages
    # The heap grows over the first blocks (a 64-byte-aligned block needs a little more than the one
    # freed, and torch's own small allocations land between them), then the same pages serve the rest.
    assert max(faults[True][-4:]) < pages // 100, faults[True]


def test_kept_memory_goes_back_when_the_outermost_user_leaves():
    with keep_host_memory():
        with keep_host_memory():  # nested (a stylizer inside a video's loop): still kept after it
            torch.empty(4 * BLOCK // 4).fill_(1.0)
        assert host_memory.kept()
        held = resident_bytes()
    assert not host_memory.kept()
    assert resident_bytes() < held - 2 * BLOCK


def test_fastnst_keep_memory_0_leaves_glibc_as_it_is(monkeypatch):
    calls = []

    class RecordingLibc:
        def __getattr__(self, name):
            return lambda *args: calls.append(name)

    monkeypatch.setattr(host_memory, "_glibc", RecordingLibc)
    with keep_host_memory():
        assert host_memory.kept() and calls == ["mallopt", "mallopt"]
    monkeypatch.setenv("FASTNST_KEEP_MEMORY", "0")
    calls.clear()
    with keep_host_memory():
        assert not host_memory.kept()
    assert calls == []


def test_the_fast_path_keeps_memory_only_while_it_runs():
    seen = []
    net = FastStylizer(contrasty_net("light"), "cpu", "fp32")
    net.net.conv1.register_forward_hook(lambda *_: seen.append(host_memory.kept()))
    out = net(torch.rand(1, 3, 32, 32))
    assert seen == [True] and not host_memory.kept() and out.shape == (1, 3, 32, 32)


def test_a_folder_and_a_video_keep_memory_from_one_picture_to_the_next(monkeypatch, tmp_path, photo_dir, ckpt_file):
    import fastnst.video.jobs as jobs
    from fastnst.cli import infer_main
    from fastnst.video.writer import VideoWriter

    from .helpers import make_clip

    between = []  # whether memory is kept while a finished picture is saved, between two forward passes
    save, write = jobs.save_image, VideoWriter.write
    monkeypatch.setattr(jobs, "save_image", lambda *a, **k: (between.append(host_memory.kept()), save(*a, **k)))
    monkeypatch.setattr(VideoWriter, "write", lambda *a, **k: (between.append(host_memory.kept()), write(*a, **k)))
    clip = make_clip(photo_dir / "clip.mp4", frames=3)
    assert infer_main([str(photo_dir), "--ckpt", str(ckpt_file), "--backend", "torch", "-o", str(tmp_path / "out")]) == 0
    assert len(between) == 4 + 3 and all(between)
    assert not host_memory.kept()  # and given back at the end
    assert clip.exists()
