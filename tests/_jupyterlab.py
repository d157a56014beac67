"""A JupyterLab server on 127.0.0.1 and headless Debian Chromium, for the end-to-end tests.

No browser is downloaded: Playwright drives ``/usr/bin/chromium`` (Debian's package).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: The notebook panel on screen (other documents' panels are hidden).
ACTIVE = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_available() -> bool:
    """Chromium and Playwright for Python are both there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A running JupyterLab: its URL, token and root folder."""

    def __init__(self, root: Path, port: int, token: str, proc: subprocess.Popen[bytes]) -> None:
        self.root, self.port, self.token, self.proc = root, port, token, proc

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        # reset: open only this document, not the tabs an earlier page left in the workspace
        return f"{self.base}/lab/tree/{path}?token={self.token}&reset"

    def api(self, path: str) -> object:
        req = urllib.request.Request(
            f"{self.base}/api/{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:  # loopback only
            return json.loads(r.read())


@contextmanager
def jupyterlab(root: Path, log: Path) -> Iterator[Lab]:
    """Start JupyterLab on 127.0.0.1 with a random token; stop it afterwards."""
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, REVIEW_OFFLINE="1", JUPYTER_PLATFORM_DIRS="1")
    env["JUPYTER_CONFIG_DIR"] = str(root / ".jupyter-config")
    env["JUPYTER_RUNTIME_DIR"] = str(root / ".jupyter-runtime")
    # render every cell (no windowing), so each output is in the page to be checked
    settings = root / ".jupyterlab-settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_remote_access=False",
        "--allow-root",
        "--LabApp.news_url=",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabServerApp.extra_labextensions_path=[]",
        "--ServerApp.disable_check_xsrf=False",
    ]
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=logf, stderr=subprocess.STDOUT)
        lab = Lab(root, port, token, proc)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"JupyterLab exited early; see {log}")
                try:
                    lab.api("status")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"JupyterLab did not start in 90 s; see {log}") from None
                    time.sleep(0.5)
            yield lab
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium browser (Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_notebook(page: object, lab: Lab, path: str) -> None:
    """Open a notebook, accept the kernel dialog if JupyterLab asks, wait for an idle kernel."""
    page.goto(lab.url(path), wait_until="domcontentloaded")
    page.wait_for_selector(f"{ACTIVE} .jp-Notebook .jp-Cell", timeout=90_000)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count() > 0:
            dialog.first.click()
        status = page.locator(".jp-StatusBar-Widget:has-text('Idle')")
        if status.count() > 0 and dialog.count() == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"kernel of {path} did not become idle")


def run_all_cells(page: object, timeout_s: float = 600) -> None:
    """Run > Run All Cells, then wait until the kernel has been idle with no ``[*]`` twice.

    A cell that raises stops the run (later cells stay unexecuted); the caller reads the saved
    notebook to see which cells ran and whether any failed.
    """
    page.click("#jp-MainMenu .lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    time.sleep(1.0)
    deadline = time.monotonic() + timeout_s
    settled = 0
    while time.monotonic() < deadline:
        prompts = page.locator(f"{ACTIVE} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        busy = any("*" in p for p in prompts)
        idle = page.locator(".jp-StatusBar-Widget:has-text('Idle')").count() > 0
        settled = settled + 1 if (idle and not busy) else 0
        if settled >= 2:
            return
        time.sleep(1.0)
    raise TimeoutError("cells still running")


def save(page: object) -> None:
    """File > Save Notebook (Ctrl+S) and wait until the document is clean."""
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)
