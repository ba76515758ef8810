# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small W3C WebDriver client (python3 stdlib only) for Debian's chromedriver + chromium.

Browser() starts chromedriver on a free loopback port (its PID recorded, stopped by close()),
which starts a headless chromium with a fresh profile, no sandbox (root), no background
networking: it talks to loopback only."""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--lang=en-US",
    "--disable-crash-reporter",
]


class WebDriverError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, width=1280, height=800, chromium="/usr/bin/chromium",
                 chromedriver="/usr/bin/chromedriver"):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="drs-chromium.")
        self.log = open(os.path.join(self.profile, "chromedriver.log"), "w")
        self.driver = subprocess.Popen(
            [chromedriver, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.session = None
        for _ in range(100):
            try:
                self._req("GET", "/status")
                break
            except (OSError, WebDriverError):
                time.sleep(0.1)
        else:
            self.close()
            raise WebDriverError("chromedriver did not start")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_ARGS + [f"--user-data-dir={self.profile}/profile",
                                         f"--window-size={width},{height}"],
            },
        }}}
        try:
            self.session = self._req("POST", "/session", caps)["sessionId"]
        except Exception:
            self.close()
            raise

    def _req(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=timeout) as f:
                return json.load(f)["value"]
        except urllib.error.HTTPError as e:
            try:
                v = json.load(e)["value"]
                msg = f"{v.get('error')}: {v.get('message', '').splitlines()[0]}"
            except (ValueError, KeyError, AttributeError):
                msg = str(e)
            raise WebDriverError(msg) from None

    def _s(self, method, path, body=None):
        return self._req(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self._s("POST", "/url", {"url": url})

    def js(self, script, *args):
        """Runs script (a function body: use 'return') in the page."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script, timeout=30, what="condition", *args):
        """Polls script until it returns something truthy (returned); raises on timeout."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                last = self.js(script, *args)
            except WebDriverError as e:
                last = e
            if last and not isinstance(last, WebDriverError):
                return last
            time.sleep(0.25)
        raise WebDriverError(f"timed out after {timeout} s waiting for {what} (last: {last})")

    def click(self, css):
        """A real click (WebDriver element click: scrolled into view, must be clickable)."""
        el = self._s("POST", "/element", {"using": "css selector", "value": css})
        eid = next(iter(el.values()))
        self._s("POST", f"/element/{eid}/click", {})

    def type(self, css, text):
        el = self._s("POST", "/element", {"using": "css selector", "value": css})
        eid = next(iter(el.values()))
        self._s("POST", f"/element/{eid}/clear", {})
        self._s("POST", f"/element/{eid}/value", {"text": text})

    def resize(self, width, height):
        self._s("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path):
        png = base64.b64decode(self._s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def console(self):
        try:
            return self._s("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return []

    def close(self):
        if self.session:
            try:
                self._req("DELETE", f"/session/{self.session}", timeout=20)
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
