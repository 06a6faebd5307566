"""One network, several styles (conditional instance norm): choosing, blending, adding a style,
training several at once, and every place a user picks a style."""

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main, info_main
from fastnst.errors import FastNSTError
from fastnst.images import to_tensor
from fastnst.inference import Stylizer, parse_style
from fastnst.model import one_hot
from fastnst.training.styles import build_net

from .helpers import THREE_STYLE_NAMES as NAMES, random_image, run_cli, three_style_net
from .train_helpers import small_run


@pytest.fixture
def three_styles(tmp_path):
    state = build_checkpoint(three_style_net(), styles=[(n, random_image(40, 30, seed=i)) for i, n in enumerate(NAMES)],
                             train_args={}, loss={}, step=0)
    return atomic_save(state, tmp_path / "three.pt")


@pytest.fixture
def style_files(tmp_path):
    paths = []
    for i, name in enumerate(["mosaic", "candy"]):
        paths.append(tmp_path / f"{name}.png")
        random_image(48, 40, seed=i + 1).save(paths[-1])
    return paths


def test_a_style_is_chosen_by_name_index_or_a_blend_of_it_alone(three_styles):
    photo = random_image(36, 28, seed=5)
    by_name = fastnst.stylize(photo, three_styles, style="candy")
    for same in (1, "1", "candy=1", "candy=3,mosaic=0", {"candy": 0.5}):
        assert fastnst.stylize(photo, three_styles, style=same).tobytes() == by_name.tobytes(), same
    assert fastnst.stylize(photo, three_styles).tobytes() == fastnst.stylize(photo, three_styles, style="mosaic").tobytes()


def test_a_blend_lies_between_its_styles():
    net, x = three_style_net(), to_tensor(random_image(40, 32, seed=3))
    with torch.no_grad():
        a, b = net(x, one_hot(0, 3)), net(x, one_hot(1, 3))
        mid = net(x, parse_style("mosaic=0.5,candy=0.5", NAMES)[0].mix)
    apart = (a - b).norm()
    assert (mid - a).norm() < apart and (mid - b).norm() < apart
    assert (mid - a).norm() > 0.1 * apart and (mid - b).norm() > 0.1 * apart  # a real mix, not one end


def test_one_style_net_of_several_equals_the_net_running_that_style():
    net, x = three_style_net(), torch.rand(2, 3, 37, 41)
    for i in range(3):
        assert torch.equal(net(x, one_hot(i, 3)), net.single_style(i)(x))


@pytest.mark.parametrize("spec, message", [
    ("nope", "unknown style 'nope': this net has 3 styles: 0 mosaic, 1 candy, 2 udnie"),
    ("7", "style index 7 is out of range"),
    ("mosaic=-1", "not negative"),
    ("mosaic=x", "'mosaic=x' is not NAME=WEIGHT"),
])
def test_a_bad_style_is_named_with_the_styles_the_net_has(spec, message):
    with pytest.raises(FastNSTError, match=message):
        parse_style(spec, NAMES)


def test_infer_lists_the_styles_when_a_name_is_wrong(tmp_path, three_styles, capsys):
    random_image(32, 24).save(tmp_path / "photo.png")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "photo.png", "--ckpt", three_styles, "--style", "starry")
    assert code == 2 and "0 mosaic, 1 candy, 2 udnie" in err and "Traceback" not in err
    assert not list(tmp_path.glob("photo_*"))


def test_infer_style_all_writes_one_output_per_style_and_a_blend_is_named_by_its_weights(tmp_path, three_styles,
                                                                                           capsys):
    random_image(32, 24).save(tmp_path / "photo.png")
    assert run_cli(infer_main, capsys, tmp_path / "photo.png", "--ckpt", three_styles, "--style", "all")[0] == 0
    assert sorted(p.name for p in tmp_path.glob("photo_*")) == ["photo_candy.png", "photo_mosaic.png",
                                                                "photo_udnie.png"]
    code, out, _ = run_cli(infer_main, capsys, tmp_path / "photo.png", "--ckpt", three_styles,
                           "--style", "mosaic=0.6,candy=0.4")
    assert code == 0 and (tmp_path / "photo_mosaic60+candy40.png").is_file()


def test_list_styles_and_info_say_what_a_checkpoint_holds(three_styles, ckpt_file, capsys):
    code, out, _ = run_cli(infer_main, capsys, "--ckpt", three_styles, "--list-styles")
    assert code == 0 and "3 styles" in out and "2  udnie" in out
    code, out, _ = run_cli(info_main, capsys, three_styles, ckpt_file)
    assert code == 0 and "1  candy  (thumbnail 40x30)" in out and "1 style" in out and "0  tiles" in out


def test_a_video_takes_the_style_choice_too(tmp_path, three_styles):
    from .helpers import make_clip
    import av
    import numpy as np

    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    outs = {}
    for spec in ("udnie", 2):
        out = fastnst.stylize_video(clip, tmp_path / f"out_{spec}.mp4", three_styles, style=spec, progress=False)
        with av.open(str(out)) as container:
            outs[spec] = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert np.array_equal(outs["udnie"], outs[2])
    mosaic = fastnst.stylize_video(clip, tmp_path / "out_m.mp4", three_styles, style="mosaic", progress=False)
    with av.open(str(mosaic)) as container:
        first = next(iter(container.decode(video=0))).to_ndarray(format="rgb24")
    assert not np.array_equal(first, outs["udnie"][0])


def test_the_webcam_styles_of_one_net_share_it_and_switch_without_reload(three_styles):
    choices = Stylizer.load_all(three_styles, device="cpu", precision="fp32", backend="torch", style="all",
                                shared=True)
    assert [stylizer.label for stylizer in choices] == NAMES
    assert len({id(stylizer.net.shared) for stylizer in choices}) == 1  # one net in memory
    x = torch.rand(1, 3, 24, 32)
    alone = Stylizer.load_all(three_styles, device="cpu", precision="fp32", backend="torch", style="all")
    for order in ([0, 1, 2], [2, 0, 1, 1]):  # whatever ran before, a switch gives that style's output
        for i in order:
            torch.testing.assert_close(choices[i](x), alone[i](x), rtol=0, atol=1e-6)


def test_in_onnxruntime_the_styles_share_one_session(three_styles):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    choices = Stylizer.load_all(three_styles, device="cpu", backend="onnxruntime", style="all", shared=True)
    assert len({id(stylizer.net.session) for stylizer in choices}) == 1
    x = torch.rand(1, 3, 24, 32)
    alone = Stylizer.load_all(three_styles, device="cpu", precision="fp32", backend="torch", style="all")
    for onnx, torch_net in zip(choices, alone):
        torch.testing.assert_close(onnx(x), torch_net(x), rtol=0, atol=1e-4)


def test_training_several_styles_logs_each_and_holds_them_all(tmp_path, photo_dir, style_files):
    out = fastnst.train(style=[str(p) for p in style_files], data=str(photo_dir), steps=4,
                        **small_run(tmp_path / "two"))
    ckpt = load_checkpoint(out)
    assert out.name == "mosaic+candy.pt" and ckpt.style_names == ["mosaic", "candy"]
    assert ckpt.model.config.num_styles == 2 and all(t is not None for t in ckpt.style_thumbnails)
    events = EventAccumulator(str(tmp_path / "two"), size_guidance={"images": 0, "scalars": 0}).Reload()
    assert {"mosaic/style", "candy/style", "mosaic/content", "loss/style"} <= set(events.Tags()["scalars"])
    assert {"samples/mosaic", "samples/candy", "style/mosaic", "style/candy"} <= set(events.Tags()["images"])
    x = torch.rand(1, 3, 32, 32)
    assert not torch.equal(ckpt.model(x, one_hot(0, 2)), ckpt.model(x, one_hot(1, 2)))  # each style learned its own


@pytest.mark.slow  # seconds of export or training; the default set covers the same path faster
def test_several_styles_resume_to_the_same_weights(tmp_path, photo_dir, style_files):
    styles = [str(p) for p in style_files]
    straight = fastnst.train(style=styles, data=str(photo_dir), steps=5, **small_run(tmp_path / "a"))
    fastnst.train(style=styles, data=str(photo_dir), steps=3, **small_run(tmp_path / "b"))
    resumed = fastnst.train(resume=str(tmp_path / "b" / "checkpoint.pt"), steps=5)
    a, b = (torch.load(p, weights_only=True)["model"] for p in (straight, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("start", ["one style", "two styles"])
def test_adding_a_style_leaves_the_shared_weights_and_old_styles_bit_for_bit(tmp_path, photo_dir, style_files,
                                                                            ckpt_file, start):
    init = ckpt_file if start == "one style" else fastnst.train(
        style=[str(p) for p in style_files], data=str(photo_dir), steps=2, **small_run(tmp_path / "two"))
    old = load_checkpoint(init)
    new_style = tmp_path / "autumn.png"
    random_image(40, 40, seed=9).save(new_style)
    out = fastnst.train(style=str(new_style), init=str(init), only_norms=True, data=str(photo_dir), steps=3,
                        **small_run(tmp_path / "add"))
    new = load_checkpoint(out)
    assert new.style_names == old.style_names + ["autumn"]
    count = len(old.style_names)
    before, after = old.model.state_dict(), new.model.state_dict()
    for key, value in before.items():  # shared weights the same; norms: the old styles' rows the same
        kept = after[key] if after[key].shape == value.shape else after[key][:count].reshape(value.shape)
        assert torch.equal(value, kept), key
    x = torch.rand(1, 3, 36, 28)
    for i in range(count):
        assert torch.equal(old.model(x, one_hot(i, count) if count > 1 else None),
                           new.model(x, one_hot(i, count + 1))), i
    assert not torch.equal(new.model(x, one_hot(count, count + 1)), new.model(x, one_hot(0, count + 1)))


def test_only_norms_needs_a_net_to_add_to(tmp_path, photo_dir, style_files, ckpt_file):
    with pytest.raises(FastNSTError, match="^only_norms adds styles to a trained net"):  # the field, as Python calls it
        fastnst.train(style=str(style_files[0]), only_norms=True, data=str(photo_dir), steps=1,
                      **small_run(tmp_path / "run"))
    random_image(40, 40).save(tmp_path / "tiles.png")
    with pytest.raises(FastNSTError, match="already has a style named tiles"):
        fastnst.train(style=str(tmp_path / "tiles.png"), init=str(ckpt_file), only_norms=True, data=str(photo_dir),
                      steps=1, **small_run(tmp_path / "x"))


def test_a_one_style_init_starts_every_new_style_from_its_norms(ckpt_file, style_files):
    model, styles = build_net([str(p) for p in style_files], "johnson", str(ckpt_file), only_norms=False)
    one = load_checkpoint(ckpt_file).model
    x = torch.rand(1, 3, 32, 32)
    assert styles.names == ["mosaic", "candy"] and styles.trained == [0, 1]
    for i in range(2):
        assert torch.equal(model.eval()(x, one_hot(i, 2)), one(x))


def test_export_takes_the_style_weights_as_an_input(three_styles):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fastnst.inference.onnx_runtime import cached_onnx_stylizer

    onnx = cached_onnx_stylizer(load_checkpoint(three_styles))  # int8's test of blends reads this export
    assert onnx.style_names == NAMES and [i.name for i in onnx.session.get_inputs()] == ["image", "style_weights"]
    net, x = load_checkpoint(three_styles).model, torch.rand(1, 3, 30, 26)
    mix = parse_style("candy=0.3,udnie=0.7", NAMES)[0].mix
    with torch.no_grad():
        torch.testing.assert_close(onnx.with_style(mix)(x), net(x, mix), rtol=0, atol=1e-4)
        torch.testing.assert_close(onnx(x), net(x), rtol=0, atol=1e-4)  # no weights given: the first style


def test_evaluate_measures_one_style_of_several(tmp_path, photo_dir, style_files):
    out = fastnst.train(style=[str(p) for p in style_files], data=str(photo_dir), steps=2,
                        **small_run(tmp_path / "two"))
    report = fastnst.evaluate(out, photo_dir, size=32, net_style="candy")
    assert report["style_name"] == "candy" and report["style"].endswith("candy.png")
    with pytest.raises(FastNSTError, match="one style at a time"):
        fastnst.evaluate(out, photo_dir, size=32, net_style="all")
