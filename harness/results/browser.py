"""Headless Chromium over the DevTools protocol: open the rendered report, collect console
errors and uncaught exceptions, query the DOM, take a full-page screenshot.

Used by tests/test_report_browser.py and by `make report-screenshot`:

    python -m harness.results.browser screenshot results/report.html results/report.png

Needs the `chromium` binary (Debian package `chromium`) and the `websocket-client` package
(test extra). No network: the page is a local file and Chromium's background services are off."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--mute-audio", "--no-default-browser-check"]


def find_chromium():
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """A headless Chromium with one page, driven over its DevTools websocket."""

    def __init__(self, binary=None, width=1400, height=900, timeout=60):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError("no chromium binary found (apt-get install chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self.proc = None
        self.ws = None
        self.profile = None
        self._id = 0
        self.events = []

    def __enter__(self):
        import websocket  # websocket-client, a test dependency
        self.profile = tempfile.mkdtemp(prefix="dlbench-chromium-")
        cmd = [self.binary] + FLAGS + ["--user-data-dir=%s" % self.profile,
                                       "--remote-debugging-port=0",
                                       "--window-size=%d,%d" % (self.width, self.height),
                                       "about:blank"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + self.timeout
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None:
                raise BrowserError("chromium exited (%s): %s" % (
                    self.proc.returncode, self.proc.stderr.read().decode(errors="replace")[-2000:]))
            if time.time() > deadline:
                raise BrowserError("chromium did not open its DevTools port")
            time.sleep(0.05)
        with open(port_file) as f:
            port = int(f.readline().strip())
        pages = []
        while time.time() < deadline:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                break
            time.sleep(0.05)
        if not pages:
            raise BrowserError("chromium has no page target")
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"],
                                              timeout=self.timeout, suppress_origin=True)
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(method)
        return self

    def __exit__(self, *exc):
        try:
            if self.ws:
                self.ws.close()
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc and self.proc.stderr:
                self.proc.stderr.close()
            if self.profile:
                shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method, **params):
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise BrowserError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        for ev in self.events:
            if ev["method"] == method:
                return ev
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise BrowserError("no %s within the timeout" % method)

    def open(self, path):
        self.events = []
        url = "file://" + os.path.abspath(path)
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        # let late console messages arrive
        self.evaluate("1")
        return url

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise BrowserError("evaluate failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def console_problems(self):
        """Console errors/warnings, uncaught exceptions and browser log errors seen so far."""
        out = []
        for ev in self.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append("console.%s: %s" % (p["type"], " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
            elif m == "Runtime.exceptionThrown":
                out.append("uncaught: %s" % p.get("exceptionDetails", {}).get("text"))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                e = p["entry"]
                out.append("log.%s (%s): %s" % (e["level"], e.get("source"), e.get("text")))
        return out

    def screenshot(self, out_path):
        """Full-page PNG of the open page."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = int(size["width"]), int(min(size["height"], 30000))
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        with open(out_path, "wb") as f:
            f.write(base64.b64decode(data["data"]))
        return out_path


def screenshot(html_path, png_path, width=1400):
    with Chromium(width=width) as browser:
        browser.open(html_path)
        problems = browser.console_problems()
        browser.screenshot(png_path)
    return problems


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 3 or argv[0] != "screenshot":
        print("usage: python -m harness.results.browser screenshot REPORT.html OUT.png", file=sys.stderr)
        return 2
    problems = screenshot(argv[1], argv[2])
    for p in problems:
        print("console: %s" % p, file=sys.stderr)
    print(argv[2])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
