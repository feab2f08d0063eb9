"""Headless Chromium driven by Playwright: open the rendered report, collect console errors and
uncaught exceptions, query the DOM, take a full-page screenshot.

Used by tests/unit/results/test_report_browser.py and by `make report-screenshot`:

    python -m harness.results.browser screenshot results/report.html results/report.png

Needs the `chromium` binary (Debian package `chromium`; Playwright launches it by path and
downloads no browser) and the `playwright` package (test extra). No network: the page is a
local file and Chromium's background services are off."""
import os
import shutil
import sys

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Playwright passes --headless and a temporary profile itself; --no-sandbox: Chromium's sandbox
# does not start as root (CI) or in most containers
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--mute-audio", "--no-default-browser-check"]
PROBLEM_TYPES = ("error", "warning", "assert")  # console message types that count as problems
MAX_SCREENSHOT_HEIGHT = 30000


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
    """A headless Chromium with one page, driven by Playwright's sync API."""

    def __init__(self, binary=None, width=1400, height=900, timeout=60):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError("no chromium binary found (apt-get install chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self.playwright = self.browser = self.page = None
        self.problems = []

    def __enter__(self):
        try:
            from playwright.sync_api import Error, sync_playwright
        except ImportError:
            raise BrowserError("playwright is not installed (pip install -e '.[test]')")
        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=self.binary, headless=True, chromium_sandbox=False, args=FLAGS,
                timeout=self.timeout * 1000)
        except Error as e:
            self.__exit__()
            raise BrowserError("chromium did not start (%s): %s" % (self.binary, str(e)[-2000:]))
        self.page = self.browser.new_page(viewport={"width": self.width, "height": self.height})
        self.page.set_default_timeout(self.timeout * 1000)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.problems.append("uncaught: %s" % error))
        return self

    def __exit__(self, *exc):
        try:
            if self.browser:
                self.browser.close()
        finally:
            if self.playwright:
                self.playwright.stop()
            self.playwright = self.browser = self.page = None

    def _on_console(self, message):
        if message.type in PROBLEM_TYPES:
            self.problems.append("console.%s: %s" % (message.type, message.text))

    def open(self, path):
        self.problems = []
        url = "file://" + os.path.abspath(path)
        self.page.goto(url, wait_until="load")
        # let late console messages arrive
        self.evaluate("1")
        return url

    def evaluate(self, expression):
        from playwright.sync_api import Error
        try:
            return self.page.evaluate(expression)
        except Error as e:
            raise BrowserError("evaluate failed: %s" % e)

    def console_problems(self):
        """Console errors/warnings (the page's and the browser's own) and uncaught exceptions
        seen since the page was opened."""
        return list(self.problems)

    def screenshot(self, out_path):
        """Full-page PNG of the open page (at most MAX_SCREENSHOT_HEIGHT pixels tall)."""
        width, height = self.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        clip = None
        if height > MAX_SCREENSHOT_HEIGHT:
            clip = {"x": 0, "y": 0, "width": width, "height": MAX_SCREENSHOT_HEIGHT}
        self.page.screenshot(path=out_path, full_page=True, clip=clip)
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
