"""docs/gallery/app.png: the web page with a result, as headless Chromium draws it.

    python scripts/app_screenshot.py                      # examples/grace_hopper.jpg in the mosaic style
    python scripts/app_screenshot.py --photo my.jpg --style candy --out page.png

Serves the page on a free port of 127.0.0.1, uploads the photo, picks the style in the gallery,
presses Stylize, waits for the result and saves the browser's window. Needs the app extra, selenium
and Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's fastnst, not an installed one

from PIL import Image  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as shown  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from fastnst.app import StyleService, workspace  # noqa: E402


def headless_chromium(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")),
                            options=options)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", type=Path, default=ROOT / "examples" / "grace_hopper.jpg")
    p.add_argument("--style", default="mosaic", help="a style of the gallery")
    p.add_argument("--height", type=int, default=1280, help="the page's height in the picture (its width: 1400)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery" / "app.png")
    args = p.parse_args()
    with workspace() as folder, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        from fastnst.app.page import build_page, launch  # Gradio, imported once its files have a place to go

        page = build_page(StyleService(folder))
        url = launch(page, "127.0.0.1", port)
        driver = headless_chromium(1400, args.height)
        try:
            wait = WebDriverWait(driver, 120)
            driver.get(url)
            run = wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, "#stylize")))
            driver.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(args.photo.resolve()))
            wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#photo img")))
            for item in driver.find_elements(By.CSS_SELECTOR, "#gallery button"):
                if args.style in item.text or item.get_attribute("aria-label") == args.style:
                    item.click()
                    break
            run.click()
            wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#result img")))
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#status input, #status textarea")
                       .get_attribute("value"))
            driver.set_window_size(1400, args.height + 140)  # the window's frame takes some of its height
            driver.execute_script("window.scrollTo(0, 0)")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
            shot.quantize(256, dither=Image.Dither.NONE).save(args.out, optimize=True)  # a third of the bytes
            print(f"wrote {args.out}")
        finally:
            driver.quit()
            page.close()


if __name__ == "__main__":
    main()
