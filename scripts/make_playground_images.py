"""Screenshots of the playground (``autograd-bp serve``) for docs/playground.md.

Starts the real server on a free port, drives headless Chromium with Selenium as a learner
would (keyboard included) and writes playground.png, playground-steps.png,
playground-check.png and playground-worked.png into the directory given (default docs/images).

    python scripts/make_playground_images.py [OUT_DIR]
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """``autograd-bp serve --port 0 --no-open`` in a subprocess; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograd_bp", "serve", "--port", "0", "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "http://" not in line:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"serve did not start: {line}{err}")
        yield line.split()[2]
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """Headless Chromium driven by Selenium, its console log readable."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    profile = tempfile.mkdtemp()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--window-size={width},{height}", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, timeout: float = 30.0):
    """Poll ``condition(driver)`` until it is truthy (its value), or fail after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {condition}")


def ready(driver) -> bool:
    return driver.execute_script(
        "return document.body.dataset.ready === '1' && !document.body.classList.contains('busy')"
    )


def main(out_dir: str = "docs/images") -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with serving() as url, chromium() as driver:
        driver.get(url)
        wait_for(driver, ready)
        driver.save_screenshot(str(out / "playground.png"))
        written.append(out / "playground.png")
        body = driver.find_element(By.TAG_NAME, "body")
        body.click()
        for _ in range(4):
            body.send_keys(Keys.ARROW_RIGHT)
        driver.find_element(By.CSS_SELECTOR, "g.node.value#n1").click()
        driver.save_screenshot(str(out / "playground-steps.png"))
        written.append(out / "playground-steps.png")
        claim = driver.find_element(By.ID, "claim")
        claim.clear()
        claim.send_keys("sigmoid(w*x + b)*(1 - sigmoid(w*x + b))*w", Keys.ENTER)  # x, not w
        wait_for(driver, lambda d: d.find_element(By.ID, "verdict").text)
        driver.save_screenshot(str(out / "playground-check.png"))
        written.append(out / "playground-check.png")
        written.append(_worked(driver, out / "playground-worked.png"))
    return written


def _worked(driver, path: Path) -> Path:
    """Mazur's network: stepped to where out_h1's gradient is complete, its sum shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "preset")).select_by_index(1)
    wait_for(driver, lambda d: "out_h1" in d.find_element(By.ID, "stepper").text and ready(d))
    node = driver.find_element(By.XPATH, "//*[@id='stepper']//*[name()='g' and contains(@class,"
                               "'value')][.//*[name()='text' and text()='out_h1']]")  # fmt: skip
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click'))", node)
    body = driver.find_element(By.TAG_NAME, "body")
    while "∂E_total/∂out_h1 = " not in driver.find_element(By.CSS_SELECTOR, ".abp-text").text:
        body.send_keys("\ue014")  # the right arrow key, as a learner steps
    driver.save_screenshot(str(path))
    return path


if __name__ == "__main__":
    for path in main(*sys.argv[1:]):
        print(path)
