"""A minimal W3C WebDriver client (the protocol chromedriver speaks, https://www.w3.org/TR/webdriver2/) for the
catalog site's browser test: new session, navigate, find elements, type, read text, screenshot. No third-party
package: the endpoints are the standard's."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

# the W3C element reference key (WebDriver, "Elements")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
INSTALL = "sudo apt-get install -y chromium chromium-driver"
# a closed network: no background connections, no component updates (see the machine notes)
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900", "--allow-file-access-from-files"]


def available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists() or bool(
        shutil.which("chromium") and shutil.which("chromedriver"))


class Browser:
    def __init__(self, user_data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
        self.process = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                self._call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        binary = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        try:
            answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": binary, "args": [*FLAGS, f"--user-data-dir={user_data_dir}"]}}}})
        except Exception:
            self.process.terminate()  # no session: no driver left behind
            raise
        self.session = f"/session/{answer['sessionId']}"

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def get(self, url: str) -> None:
        self._call("POST", f"{self.session}/url", {"url": url})

    def find(self, css: str) -> list[str]:
        found = self._call("POST", f"{self.session}/elements", {"using": "css selector", "value": css})
        return [element[ELEMENT] for element in found]

    def text(self, element: str) -> str:
        return self._call("GET", f"{self.session}/element/{element}/text")

    def type(self, element: str, text: str) -> None:
        self._call("POST", f"{self.session}/element/{element}/value", {"text": text})

    def clear(self, element: str) -> None:
        self._call("POST", f"{self.session}/element/{element}/clear", {})

    def select(self, css_option: str) -> None:
        (option,) = self.find(css_option)
        self._call("POST", f"{self.session}/element/{option}/click", {})

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", f"{self.session}/screenshot")))

    def close(self) -> None:
        try:
            self._call("DELETE", self.session)
        finally:
            self.process.terminate()
            self.process.wait(timeout=10)
