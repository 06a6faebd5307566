"""`python benchmarks/bench.py` runs and reports every row. No timing assertions: speed is measured by
the benchmark itself, on a quiet machine, not by tests."""

import json

import pytest

from bench import main, parse_sizes
from fastnst.errors import FastNSTError

from .helpers import make_clip


def test_bench_prints_the_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    code = main(["--sizes", "32,40x24", "--repeats", "1", "--no-onnx", "--train-repeats", "1",
                 "--train-size", "32", "--train-batch", "1", "--memory", "--json", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(path.read_text())
    rows = report["rows"]
    inference = [r for r in rows if r["section"] == "inference"]
    for size in ((32, 32), (40, 24)):
        for arch in ("johnson", "light"):
            variants = {r["variant"] for r in inference if (r["width"], r["height"]) == size and r["arch"] == arch}
            assert {"eager fp32", "fast", "fast, memory not kept"} <= variants
    baseline = [r for r in inference if r["variant"] == "eager fp32"]
    assert all(r["ratio"] == 1.0 and r["seconds"] > 0 for r in baseline)
    assert any(r["section"] == "training" and r["name"] == "train step fast" for r in rows)
    assert report["machine"]["cores"] >= 1 and "load_average" in report["machine"]
    assert "40x24" in out and "eager fp32" in out and "train step fast" in out


def test_sizes_and_options_are_checked(capsys):
    assert parse_sizes("256, 1920x1080") == [(256, 256), (1920, 1080)]
    with pytest.raises(FastNSTError, match="not a size"):
        parse_sizes("big")
    assert main(["--sizes", "4", "--no-train"]) == 2
    assert main(["--archs", "huge", "--no-train"]) == 2
    assert capsys.readouterr().err.count("error:") == 2


def test_cpu_classes_refuses_an_instruction_set_it_does_not_know(capsys):
    import cpu_classes

    assert cpu_classes.main(["--isa", "SSE9"]) == 2
    assert capsys.readouterr().err.startswith("error: --isa")


@pytest.mark.slow  # bench.py with ONNX and a convolution peak, each in a new process; its rule: test_backend.py
def test_cpu_classes_runs_the_benchmark_as_an_older_cpu(tmp_path, capsys):
    """Under ONEDNN_MAX_CPU_ISA=AVX2 fastnst counts the CPU as one without native bf16: auto runs
    both nets on the fast path in fp32."""
    import cpu_classes

    path = tmp_path / "classes.json"
    assert cpu_classes.main(["--isa", "avx2", "--sizes", "32", "--repeats", "1", "--json", str(path)]) == 0
    report = json.loads(path.read_text())[0]
    assert report["isa"] == "AVX2" and report["machine"]["onednn_isa_limit"] == "AVX2"
    assert report["machine"]["cpu_bf16"] is None and set(report["conv_gflops"]) == {"fp32"}
    defaults = {r["arch"]: r for r in report["rows"] if r.get("default")}
    for arch in ("johnson", "light"):
        assert defaults[arch]["variant"] == "fast" and defaults[arch]["precision"] == "fp32"
    assert "## AVX2" in capsys.readouterr().out
    assert cpu_classes.main(["--isa", "SSE9"]) == 2


@pytest.mark.slow  # the demo in a new process
def test_the_webcam_benchmark_runs_the_headless_demo_and_reports_its_measurements(tmp_path, ckpt_file, capsys):
    import webcam  # benchmarks/webcam.py

    clip = make_clip(tmp_path / "cam.mp4", frames=8, audio=None, size=(64, 48))
    assert webcam.main([str(ckpt_file), "--clip", str(clip), "--size", "32x24", "--frames", "6",
                        "--json", str(tmp_path / "webcam.json")]) == 0
    row, = json.loads((tmp_path / "webcam.json").read_text())
    assert row["size"] == "32x24" and row["frames"] == 6 and row["working_size"] == "32x24"
    assert row["frames_per_s"] > 0 and 0 <= row["latency_median_ms"] <= row["latency_p95_ms"]
    assert "32x24 ->" in capsys.readouterr().out
