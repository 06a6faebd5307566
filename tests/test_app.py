"""The web page (python -m fastnst app): what it calls, the served page driven through gradio_client,
and the page in a headless Chromium. Small photos and the bundled small networks, so it runs fast."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fastnst.app import FrameRate, PhotoOptions, StyleRequest, StyleService, workspace
from fastnst.app.inputs import probe_picture
from fastnst.cli.app import GRADIO_MISSING, main as app_main
from fastnst.errors import FastNSTError

from .helpers import ROOT, make_clip, random_image, run_cli

needs_gradio = pytest.mark.skipif(importlib.util.find_spec("gradio") is None,
                                  reason="Gradio is not installed (pip install -e '.[app]')")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def service(workdir: Path) -> StyleService:
    return StyleService(workdir / "service")


@pytest.fixture(scope="module")
def photo(workdir: Path) -> Path:
    path = workdir / "photo.jpg"
    random_image(160, 120, seed=3).save(path)
    return path


@pytest.fixture(scope="module")
def painting(workdir: Path) -> Path:
    path = workdir / "painting.png"
    random_image(64, 64, seed=4).save(path)
    return path


@pytest.fixture(scope="module")
def not_a_picture(workdir: Path) -> Path:
    path = workdir / "notes.jpg"
    path.write_text("not a picture")
    return path


def test_a_bundled_network_stylizes_a_photo_at_the_chosen_size(service, photo):
    result = service.stylize_photo(photo, StyleRequest(network="mosaic"), PhotoOptions(size=96))
    assert result.name == "photo_mosaic.png" and result.is_relative_to(service.workdir)
    assert Image.open(result).size == (96, 72)


def test_the_gallery_offers_each_bundled_style_once_with_a_thumbnail(service):
    names = [style.name for style in service.networks]
    assert names[0] == "mosaic" and sorted(names) == sorted(set(names))
    assert {"candy", "udnie", "starry_night", "rain-princess"} <= set(names)
    assert all(max(style.thumbnail.size) <= 160 for style in service.networks)
    assert [style.name for style in service.realtime][0] == "mosaic"


def test_the_users_networks_come_first_and_a_bundled_style_of_the_same_name_is_told_apart(workdir, two_styles,
                                                                                          photo):
    own = StyleService(workdir / "own", [two_styles])
    names = [style.name for style in own.networks]
    assert names[:2] == ["candy", "mosaic"] and "mosaic (mosaic.pt)" in names and "udnie" in names
    assert own.stylizer(StyleRequest(network="candy", blend_with="mosaic", mix=0.5)).label == "candy50+mosaic50"
    assert [style.name for style in own.realtime][-2:] == ["candy (two.pt)", "mosaic (two.pt)"]
    frame = own.stylize_frame(np.asarray(random_image(40, 30)), "mosaic (two.pt)", size=32)
    assert frame.shape == (30, 40, 3)


def test_a_network_stored_without_its_painting_shows_its_look_on_a_gradient(shared_ckpt):
    from fastnst import Stylizer
    from fastnst.app.inputs import swatch

    assert swatch(Stylizer.load(shared_ckpt)).size == (96, 96)


def test_a_stylizer_is_loaded_once_and_reused(service):
    assert service.stylizer(StyleRequest(network="candy")) is service.stylizer(StyleRequest(network="candy"))


def test_a_blend_of_two_networks_runs_in_the_network_holding_both(service, photo):
    stylizer = service.stylizer(StyleRequest(network="mosaic", blend_with="candy", mix=0.7))
    assert stylizer.label == "mosaic70+candy30"
    result = service.stylize_photo(photo, StyleRequest(network="mosaic", blend_with="candy", mix=0.7),
                                   PhotoOptions(size=64, strength=0.5, preserve_color=True, match_tone=True))
    assert Image.open(result).size == (64, 48)


def test_a_painting_goes_through_the_universal_model_and_its_statistics_are_kept(service, photo, painting, tmp_path):
    (tmp_path / "again").mkdir()
    again = Path(shutil.copyfile(painting, tmp_path / "again" / "painting.png"))  # the same painting, uploaded again
    first = service.stylizer(StyleRequest(paintings=(str(painting),)))
    assert service.stylizer(StyleRequest(paintings=(str(again),))) is first
    assert first.runtime.kind == "universal" and first.label == "painting"
    odd = Path(shutil.copyfile(painting, tmp_path / "sky=blue,1.png"))  # "=" and "," mean something in a blend
    result = service.stylize_photo(photo, StyleRequest(paintings=(str(odd), str(painting)), mix=0.25),
                                   PhotoOptions(size=64))
    assert result.name == "photo_sky_blue_125+painting75.png" and Image.open(result).size == (64, 48)


@pytest.mark.parametrize("request_of, expected", [
    (lambda bad: dict(photo=bad), "photo notes.jpg: not a picture this page can read"),
    (lambda bad: dict(style=StyleRequest(paintings=(str(bad),))), "painting notes.jpg: not a picture this page can read"),
    (lambda bad: dict(style=StyleRequest(network="picasso")), "no style named 'picasso': choose one of mosaic"),
    (lambda bad: dict(photo=None), "give a photo"),
], ids=["photo", "painting", "network", "no photo"])
def test_bad_input_is_refused_in_one_line_naming_what_is_wrong(service, photo, not_a_picture, request_of, expected):
    given = {"photo": photo, "style": StyleRequest(network="mosaic"), **request_of(not_a_picture)}
    with pytest.raises(FastNSTError) as refused:
        service.stylize_photo(given["photo"], given["style"], PhotoOptions(size=64))
    assert str(refused.value).startswith(expected) and "\n" not in str(refused.value)


def test_a_result_too_large_names_an_output_size_that_fits(service, photo, monkeypatch):
    monkeypatch.setattr(service, "max_pixels", 30_000)  # 160 x 120 is 19 200 pixels
    with pytest.raises(FastNSTError, match=r"^the result would be 400x300 \(0\.1 MP\), more than the page "
                                           r"stylizes \(0\.0 MP\): shrink it first"):
        service.check_size(400, 300, 0)
    assert Image.open(service.stylize_photo(photo, StyleRequest(network="mosaic"), PhotoOptions(size=0))).size == (160, 120)
    monkeypatch.setattr(service, "max_pixels", 300_000)
    with pytest.raises(FastNSTError, match="choose an output size of 512 or less"):
        service.check_size(4000, 3000, 0)


def test_a_photo_with_more_pixels_than_the_page_opens_is_refused_before_it_is_decoded(photo):
    with pytest.raises(FastNSTError, match=r"photo photo.jpg: 160x120 is 0.0 MP, more than the page opens"):
        probe_picture(photo, "photo", max_pixels=10_000)


def test_one_heavy_job_runs_at_a_time(service, photo, monkeypatch):
    running, most = [], []

    class Slow:
        label = "slow"

        def stylize(self, image, options):
            running.append(1)
            most.append(len(running))
            time.sleep(0.2)
            running.pop()
            return Image.new("RGB", (8, 8))

    monkeypatch.setattr(service, "stylizer", lambda request: Slow())
    threads = [threading.Thread(target=service.stylize_photo, args=(photo, StyleRequest(), PhotoOptions()))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == [1, 1, 1]


def test_a_webcam_frame_comes_back_at_its_size_through_a_real_time_network(service):
    frame = np.asarray(random_image(96, 72, seed=5))
    out = service.stylize_frame(frame, "candy", strength=0.8, preserve_color=True, size=64)
    assert out.shape == (72, 96, 3) and out.dtype == np.uint8 and not np.array_equal(out, frame)


def test_the_frame_rate_counts_the_frames_of_the_last_seconds():
    rate = FrameRate(window=2.0)
    assert rate.tick(0.0) == 0.0
    assert [rate.tick(t) for t in (0.1, 0.2, 0.3, 0.4)][-1] == pytest.approx(10.0)
    assert rate.tick(10.0) == 0.0  # the old frames have left the window


def test_a_short_clip_is_stylized_with_its_sound(service, workdir):
    clip = make_clip(workdir / "clip.mp4", frames=6, size=(64, 48))
    result = service.stylize_clip(clip, StyleRequest(network="udnie"), PhotoOptions(size=0))
    assert result.name == "clip_udnie.mp4" and result.is_relative_to(service.workdir)
    with av.open(str(result)) as video:
        assert len(video.streams.audio) == 1 and video.streams.video[0].width == 64


def test_without_gradio_the_command_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio fails, as where it is not installed
    code, out, err = run_cli(app_main, capsys, "--no-browser")
    assert code == 2 and err.strip() == GRADIO_MISSING and out == ""


@needs_gradio
@pytest.mark.slow
def test_the_command_serves_the_page_until_ctrl_c_and_leaves_no_files(tmp_path):
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    # Ctrl-C reaches it as in a terminal, even where the tests run with SIGINT ignored (a background job).
    server = subprocess.Popen([sys.executable, "-m", "fastnst", "app", "--no-browser", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(server.stdout), daemon=True)  # never a full pipe
    reader.start()
    serving = f"fastnst app: serving on http://127.0.0.1:{port}/ (Ctrl-C stops it)"
    try:
        deadline = time.monotonic() + 120
        while not any(line.strip() == serving for line in said) and server.poll() is None:
            assert time.monotonic() < deadline, said
            time.sleep(0.1)
        assert any(line.strip() == serving for line in said), said
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200 and b"fastnst" in page.read()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("fastnst-app-")]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError(f"still running a minute after Ctrl-C; it said: {said}") from None
    assert code == 0 and not [p for p in tmp_path.iterdir() if p.name.startswith(("fastnst-app-", "gradio"))]


def test_gradio_is_imported_by_the_page_module_alone():
    importers = set()
    for path in (ROOT / "fastnst").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in ("gradio", "gradio_client") for name in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"fastnst/app/page.py"}


@needs_gradio
def test_building_the_page_writes_nothing_beside_the_package(server):
    assert not [p for p in (ROOT / "fastnst").rglob("*") if p.suffix == ".pyi"]  # Gradio's stubs of component classes


def test_the_workspace_holds_gradios_files_and_is_removed_on_exit():
    before = os.environ.get("GRADIO_TEMP_DIR")
    with workspace() as folder:
        assert os.environ["GRADIO_TEMP_DIR"] == str(folder) and os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
        (folder / "result.png").write_bytes(b"x")
    assert not folder.exists() and os.environ.get("GRADIO_TEMP_DIR") == before


# -- the served page ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """The page served on a free port of 127.0.0.1 for this module's tests: (its address, its service)."""
    pytest.importorskip("gradio", reason="Gradio is not installed (pip install -e '.[app]')")
    with workspace() as folder:
        from fastnst.app.page import build_page, launch

        service = StyleService(folder)
        page = build_page(service)
        url = launch(page, "127.0.0.1", free_port())
        try:
            yield url, service
        finally:
            page.close()


def page_request(photo, painting=None, network="mosaic", size=96):
    """The /stylize endpoint's arguments, in the order of the page's controls."""
    from gradio_client import handle_file

    source = "my painting" if painting else "a trained network"
    return (handle_file(str(photo)), source, network, "none", handle_file(str(painting)) if painting else None,
            None, 0.5, 1.0, False, False, size)


@needs_gradio
def test_the_served_page_stylizes_a_photo_with_a_painting(server, photo, painting, tmp_path):
    from gradio_client import Client

    client = Client(server[0], verbose=False, download_files=str(tmp_path))
    result, said = client.predict(*page_request(photo, painting), api_name="/stylize")
    assert Image.open(result).size == (96, 72) and said.startswith("photo_painting.png: 96x72")


@needs_gradio
def test_after_a_bad_request_the_page_says_why_and_keeps_serving(server, photo, not_a_picture, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server[0], verbose=False, download_files=str(tmp_path))
    with pytest.raises(AppError, match="photo notes.jpg: not a picture this page can read"):
        client.predict(*page_request(not_a_picture), api_name="/stylize")
    with pytest.raises(AppError, match="painting notes.jpg: not a picture this page can read"):
        client.predict(*page_request(photo, not_a_picture), api_name="/stylize")
    with pytest.raises(AppError, match="output size 'big': give a number of pixels"):
        client.predict(*page_request(photo, size="big"), api_name="/stylize")
    huge = tmp_path / "huge.jpg"
    Image.new("RGB", (4200, 4000), "olive").save(huge)  # 16.8 MP: more than the page stylizes
    with pytest.raises(AppError, match=r"the result would be 4200x4000 \(17 MP\), more than the page stylizes "
                                       r"\(16 MP\): choose an output size of 4096 or less"):
        client.predict(*page_request(huge, size=0), api_name="/stylize")
    result, _ = client.predict(*page_request(photo, network="candy", size=64), api_name="/stylize")
    assert Image.open(result).size == (64, 48)


@needs_gradio
def test_the_served_page_stylizes_a_clip_and_keeps_its_sound(server, workdir, tmp_path):
    from gradio_client import Client, handle_file

    clip = make_clip(workdir / "page_clip.mp4", frames=4, size=(64, 48))
    client = Client(server[0], verbose=False, download_files=str(tmp_path))
    result, said = client.predict(handle_file(str(clip)), "a trained network", "candy", None, 1.0, False,
                                  False, 0, api_name="/stylize_clip")
    path = result["video"] if isinstance(result, dict) else result
    assert said.startswith("page_clip_candy.mp4")
    with av.open(str(path)) as video:
        assert len(video.streams.audio) == 1 and video.streams.video[0].width == 64


@needs_gradio
def test_a_port_in_use_is_refused_in_one_line(server):
    from fastnst.app.page import build_page, launch

    port = int(server[0].rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(FastNSTError, match=f"^cannot serve the page on 127.0.0.1:{port}: the port is in use; "
                                           f"choose another port$"):
        launch(build_page(server[1]), "127.0.0.1", port)


def chromium() -> tuple[str, str] | None:
    """(browser, driver) of Debian's chromium and chromium-driver, or None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@needs_gradio
@pytest.mark.skipif(chromium() is None, reason="no chromium and chromedriver (apt-get install chromium "
                    "chromium-driver; .ci/run does)")
def test_in_a_headless_browser_the_page_shows_its_controls_a_result_and_the_webcam_stream(server, photo):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):  # a test-pattern camera
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(server[0])
        run = wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, "#stylize")))
        tabs = [tab.text for tab in driver.find_elements(By.CSS_SELECTOR, "[role=tab]")]
        assert tabs == ["Photo", "Webcam", "Video"]
        assert len(driver.find_elements(By.CSS_SELECTOR, "#gallery img")) == len(server[1].networks)
        assert driver.find_elements(By.CSS_SELECTOR, "input[type=range]")  # the sliders
        driver.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(photo))
        wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#photo img")))
        run.click()
        wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#result img")))
        status = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#status input, #status textarea").get_attribute("value"))
        assert status.startswith("photo_mosaic.png: 160x120")

        [tab for tab in driver.find_elements(By.CSS_SELECTOR, "[role=tab]") if tab.text == "Webcam"][0].click()
        wait.until(lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#camera button") if "Webcam" in b.text])[0].click()
        wait.until(lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#camera button") if b.text == "Record"])[0].click()
        def frame_rate(d) -> float:  # the first frame says 0.0: no interval measured yet
            said = re.match(r"([\d.]+) frames/s at 320 px", d.find_element(
                By.CSS_SELECTOR, "#frame_rate input, #frame_rate textarea").get_attribute("value") or "")
            return float(said.group(1)) if said else 0.0

        assert wait.until(frame_rate) > 0 and driver.find_elements(By.CSS_SELECTOR, "#live img")
    finally:
        driver.quit()
