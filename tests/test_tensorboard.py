"""What TensorBoard shows first: the loss curves and the sample grid, the hyperparameters only in the
HParams tab."""

import errno

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import fastnst
import fastnst.checkpoint
from fastnst.cli import train_main

from .helpers import one_line, run_cli
from .train_helpers import TINY_FLAGS as TINY
from .train_helpers import small_run


def test_scalars_are_the_loss_curves_and_hparams_go_only_to_the_hparams_tab(tmp_path, photo_dir, style_file):
    fastnst.train(style=str(style_file), data=str(photo_dir), steps=2, **small_run(tmp_path / "tb"))
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "scalars": 0}).Reload()
    scalars = events.Tags()["scalars"]
    assert "loss/total" in scalars
    assert not [tag for tag in scalars if tag.startswith("hparam")]  # no single-dot charts
    assert [p.name for p in (tmp_path / "tb").iterdir() if p.is_dir()] == []  # one run, no sub-run
    # TensorBoard sorts the groups (what comes before a tag's first /) by name: the loss curves
    # come first, then the sample grid
    groups = sorted({tag.split("/")[0] for tag in scalars + events.Tags()["images"]})
    assert groups[:2] == ["loss", "samples"]

    content = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[0] == "loss/total" and set(metrics) <= set(scalars)  # the run's own curves
    assert {"style_weight", "image_size", "steps"} <= {h.name for h in experiment.hparam_infos}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["image_size"].number_value == 32


def test_sample_grid_tiles_are_at_least_256_pixels_with_small_training_crops(tmp_path, photo_dir, style_file):
    fastnst.train(style=str(style_file), data=str(photo_dir), steps=2, **small_run(tmp_path / "tb"))
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0}).Reload()
    grid = events.Images("samples")[-1]
    photos = 4  # the first four photos of --data: a row of them, a row of their stylized versions
    assert grid.height >= 2 * 256 and grid.width >= photos * 256


def test_disk_full_while_writing_tensorboard_logs_names_the_log_folder(tmp_path, photo_dir, style_file, capsys,
                                                                       monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SummaryWriter, "add_scalar", full)
    run = tmp_path / "run"
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                           "--steps", 2, *TINY)
    assert code == 1 and one_line(err) == f"error: could not write the TensorBoard logs in {run} (no space left on device)"
