"""Packaging: what a wheel holds, and how the bundled networks are found in a checkout and in an install."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import fastnst.bundled as bundled
from fastnst.errors import FastNSTError

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_and_the_bundled_networks_are_listed_for_the_wheel():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {"fastnst"} | {"fastnst." + p.parent.name for p in (ROOT / "fastnst").glob("*/__init__.py")}
    assert set(setuptools["packages"]) == on_disk | {"fastnst.checkpoints"}
    assert setuptools["package-dir"]["fastnst.checkpoints"] == "checkpoints"
    patterns = setuptools["package-data"]["fastnst.checkpoints"]
    bundled_files = {p.relative_to(ROOT / "checkpoints") for p in (ROOT / "checkpoints").rglob("*.pt")}
    assert bundled_files and all(any(f.match(pattern) for pattern in patterns) for f in bundled_files)


def test_one_console_script_holds_every_command():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"fastnst": "fastnst.cli:main"}


def test_a_checkout_finds_the_bundled_networks_beside_the_package():
    assert bundled.bundled_path("universal.pt") == ROOT / "checkpoints" / "universal.pt"
    assert bundled.bundled_path("realtime").is_dir()


def test_an_install_finds_them_inside_the_package_first(tmp_path, monkeypatch):
    inside, beside = tmp_path / "site-packages" / "fastnst" / "checkpoints", tmp_path / "checkpoints"
    for folder in (inside, beside):
        (folder / "realtime").mkdir(parents=True)
        (folder / "universal.pt").write_bytes(b"")
    monkeypatch.setattr(bundled, "PLACES", (inside, beside))
    assert bundled.bundled_path("universal.pt") == inside / "universal.pt"


def test_an_install_without_bundled_networks_says_to_pass_a_ckpt(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "PLACES", (tmp_path / "nothing",))
    with pytest.raises(FastNSTError, match="pass --ckpt"):
        bundled.bundled_path("universal.pt")
    (tmp_path / "nothing" / "realtime").mkdir(parents=True)
    with pytest.raises(FastNSTError, match="no bundled universal.pt"):
        bundled.bundled_path("universal.pt")


def test_the_fastnst_command_runs_a_subcommand_and_lists_them_for_anything_else(capsys):
    from fastnst.cli import COMMANDS, main

    assert main(["info", str(ROOT / "checkpoints" / "mosaic.pt")]) == 0
    assert "mosaic" in capsys.readouterr().out
    assert main(["paint"]) == 2
    usage = capsys.readouterr().err
    assert all(name in usage for name in COMMANDS)
    assert main(["--help"]) == 0
