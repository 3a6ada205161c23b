"""A real headless Chromium (Debian's chromium + chromium-driver) driving the served pages.

Nothing downloads a browser: the binaries are the system's. Every request the browser makes
is read back from Chrome's DevTools performance log, so a test can fail on any request that
leaves the server under test. Screenshots go to $TAGWATCH_SCREENSHOTS when set (the README's
docs/screenshots/ is regenerated that way), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS_ENV = "TAGWATCH_SCREENSHOTS"


def _require(path: str) -> None:
    if shutil.which(path) is None:
        pytest.fail(f"{path} is missing: apt-get install -y chromium chromium-driver")


class Browser:
    """A Chrome session that remembers every URL it requested."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def requested(self) -> list[str]:
        """URLs requested since the last call (from Network.requestWillBeSent events)."""
        urls = []
        for entry in self.driver.get_log("performance"):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                urls.append(message["params"]["url"])
        return urls

    def open(self, url: str) -> list[str]:
        """Load `url`, wait until it is complete, and return what the load requested."""
        self.requested()  # forget earlier requests
        self.driver.get(url)
        self.settle()
        return self.requested()

    def settle(self) -> None:
        deadline = time.monotonic() + 10
        while self.driver.execute_script("return document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise AssertionError("page did not finish loading in 10 s")
            time.sleep(0.05)
        time.sleep(0.2)  # scripts started by the load (Swagger UI fetches openapi.json)

    def screenshot(self, folder: Path, name: str, *, width: int = 1280) -> Path:
        """A full-page PNG: the window is resized to the document's height first."""
        self.driver.set_window_size(width, 900)
        time.sleep(0.1)
        height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(width, min(max(height + 120, 400), 4000))
        time.sleep(0.2)
        path = folder / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 900)
        return path


def offsite(urls: list[str], base: str) -> list[str]:
    """The requests that went anywhere but `base` (data: and about: never leave)."""
    home = urlsplit(base).netloc
    return [
        u
        for u in urls
        if urlsplit(u).scheme not in ("data", "about", "blob") and urlsplit(u).netloc != home
    ]


@contextmanager
def chrome() -> Iterator[Browser]:
    _require(CHROMIUM)
    _require(CHROMEDRIVER)
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        # Chrome's own background traffic (updates, safe browsing) is not the page's.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download drivers
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-pages", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def screenshot_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
