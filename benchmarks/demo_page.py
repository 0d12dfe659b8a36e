"""README's picture of the demo page: a CNN trained on a folder of real photos, answering one held-out photo.

    python benchmarks/demo_page.py [--cifar-dev ../shared/data/cifar10-dev/cifar10_dev.npz]

Writes the development CIFAR-10 images as a folder of PNGs per class (train/ and test/, a temporary folder),
trains `model=cnn data=images` on it for a few epochs, starts `evaluate.py mode=demo`, uploads a test photo in
headless Chromium (Debian's chromium and chromium-driver), clicks and saves the page to docs/gallery/demo_page.png.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT

from zoo.run_folder import RunFolder

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PICTURE = ROOT / "docs" / "gallery" / "demo_page.png"
BROWSER = ("/usr/bin/chromium", "/usr/bin/chromedriver")


def photo_folder(npz: Path, root: Path, test_share: float = 0.2) -> Path:
    from PIL import Image

    data = np.load(npz)
    x, y = data["x"], data["y"]
    order = np.random.default_rng(0).permutation(len(x))
    n_test = int(len(x) * test_share)
    for rank, i in enumerate(order):
        folder = root / ("test" if rank < n_test else "train") / CLASSES[int(y[i])]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i].transpose(1, 2, 0)).save(folder / f"{i}.png")
    return root


def screenshot(url: str, photo: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER[0]
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=900,620"):  # fmt: skip
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(BROWSER[1]), options=options)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#image input[type=file]")).send_keys(str(photo))
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#image img"))
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: "%" in b.find_element(By.ID, "answer").text)
        time.sleep(1)  # the bars' animation
        PICTURE.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(PICTURE))
    finally:
        browser.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar-dev", type=Path, default=ROOT.parent / "shared/data/cifar10-dev/cifar10_dev.npz")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        photos = photo_folder(args.cifar_dev, Path(scratch) / "photos")
        run = Path(scratch) / "run"
        subprocess.run([sys.executable, str(ROOT / "train.py"), "model=cnn", "data=images", f"data.path={photos}",
                        f"trainer.max_epochs={args.epochs}", "data.cache=null", "extras.print_config=false",
                        f"hydra.run.dir={run}"], cwd=scratch, check=True)  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "evaluate.py"), f"ckpt_path={RunFolder(run).best}",
             "mode=demo", "port=0", f"hydra.run.dir={Path(scratch) / 'demo'}"],
            cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            url = None
            while url is None:
                line = server.stdout.readline()
                if not line:
                    raise SystemExit("the demo page did not start")
                found = re.search(r"the demo page is at (http://127\.0\.0\.1:\d+/)", line)
                url = found.group(1) if found else None
            photo = sorted((photos / "test" / "horse").glob("*.png"))[0]
            screenshot(url, photo)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
    print(f"wrote {PICTURE}")


if __name__ == "__main__":
    main()
