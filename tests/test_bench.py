"""`python benchmarks/bench.py` runs and reports every row. No timing assertions: speed is measured by
the benchmark itself, on a quiet machine, not by tests."""

import json

import pytest

from bench import main, parse_sizes
from fastnst.errors import FastNSTError


def test_bench_prints_the_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    code = main(["--sizes", "32,40x24", "--repeats", "1", "--no-onnx", "--train-repeats", "1",
                 "--train-size", "32", "--train-batch", "1", "--json", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(path.read_text())
    rows = report["rows"]
    inference = [r for r in rows if r["section"] == "inference"]
    for size in ((32, 32), (40, 24)):
        for arch in ("johnson", "light"):
            variants = {r["variant"] for r in inference if (r["width"], r["height"]) == size and r["arch"] == arch}
            assert {"eager fp32", "fast"} <= variants
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
