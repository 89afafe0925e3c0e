"""Headless Chromium over the DevTools protocol, and a throwaway JupyterLab: what the browser checks share.

Used by ``bench/browser.py`` (``python3 dev.py browser-bench``: explorer timings in JupyterLab) and
``slides/check.py`` (``python3 dev.py slides-check``: the decks offline and the live slideshow).
The protocol is spoken over a websocket (websocket-client, installed with jupyter_server), so no
browser-driver package is needed; Chromium itself comes from the system (Debian: ``chromium``).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import websocket

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1600,900"]
KEYS = {"ArrowRight": 39, "ArrowLeft": 37, "ArrowDown": 40, "ArrowUp": 38, " ": 32}
CODES = {" ": "Space"}
NO_CHROMIUM = "No Chromium found: install it (Debian: apt-get install chromium) or pass --chromium PATH."


def find_chromium(executable=None):
    """``executable`` (a --chromium argument) when given, else the first Chromium / Chrome on PATH; None if none."""
    return executable or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def wait_script(condition, timeout_ms, poll_ms=50):
    """JavaScript that polls ``condition`` every ``poll_ms`` until it is truthy, then returns it."""
    return f"""new Promise((resolve, reject) => {{
  const start = performance.now();
  (function poll() {{
    let value = null;
    try {{ value = {condition}; }} catch (e) {{}}
    if (value) resolve(typeof value === 'object' ? true : value);  // objects do not cross over
    else if (performance.now() - start > {timeout_ms}) reject(new Error('timed out: ' + {json.dumps(condition)}));
    else setTimeout(poll, {poll_ms});
  }})();
}})"""


class Page:
    """A Chromium tab over the DevTools protocol; keeps the events it sees in ``self.events``."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=300, suppress_origin=True)
        self.last_id = 0
        self.events = []

    def call(self, method, **params):
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait(self, condition, timeout_ms=120_000, poll_ms=50):
        """Poll a JavaScript expression until it is truthy; returns its value."""
        return self.evaluate(wait_script(condition, timeout_ms, poll_ms))

    def press(self, key):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=CODES.get(key, key),
                      windowsVirtualKeyCode=KEYS[key], text=key if kind == "keyDown" and key == " " else "")

    def errors(self):
        """JavaScript exceptions and console/log errors seen so far."""
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                found.append(d.get("exception", {}).get("description") or d.get("text"))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                found.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return found

    def requests(self):
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def drain(self, seconds):
        """Collect events for a while (console errors that arrive after a page settles)."""
        self.ws.settimeout(0.1)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                try:
                    message = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if "method" in message:
                    self.events.append(message)
        finally:
            self.ws.settimeout(300)


def wait_for_json(url, seconds, process):
    """GET ``url`` until it answers (JSON), while ``process`` still runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def start_chromium(executable, folder, domains=()):
    """Chromium with its own profile in ``folder``; returns (process, its first tab).  ``domains``
    (e.g. "Runtime", "Log", "Network") report their events into ``page.events``; a timing run
    leaves them off, since recording costs time in the page."""
    profile = folder / "chromium"
    process = subprocess.Popen([executable, *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                                "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{executable} did not start its DevTools server")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    targets = wait_for_json(f"http://127.0.0.1:{port}/json/list", 30, process)
    page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
    for domain in domains:
        page.call(f"{domain}.enable")
    page.call("Emulation.setFocusEmulationEnabled", enabled=True)  # headless: focus and key events as if shown
    return process, page


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(folder, port, token, env=None, extra_config=""):
    """JupyterLab on 127.0.0.1 serving ``folder/notebooks``, with its own config, settings, workspaces
    and runtime folders (nothing of the user's is read or written); ``env`` adds variables and
    ``extra_config`` lines to its jupyter_lab_config.py."""
    config = folder / "config"
    config.mkdir()
    (config / "jupyter_lab_config.py").write_text(
        "c.ServerApp.ip = '127.0.0.1'\n"
        f"c.ServerApp.port = {port}\n"
        "c.ServerApp.port_retries = 0\n"
        "c.ServerApp.open_browser = False\n"
        f"c.ServerApp.root_dir = {str(folder / 'notebooks')!r}\n"
        f"c.ServerApp.allow_root = {hasattr(os, 'geteuid') and os.geteuid() == 0}\n"
        f"c.IdentityProvider.token = {token!r}\n"
        "c.LabApp.expose_app_in_browser = True\n"    # window.jupyterapp: drive it from the page
        "c.LabApp.news_url = None\n"                 # nothing fetched from the internet
        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n" + extra_config)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(folder / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"), **(env or {}))
    log = open(folder / "lab.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "jupyter", "lab"], env=env, stdout=log, stderr=log,
                               cwd=folder)
    wait_for_json(f"http://127.0.0.1:{port}/api/status?token={token}", 120, process)
    return process


# The open notebook's panel, found by its path (a headless page has no focused "current" widget).
PANEL = ("(Array.from(window.jupyterapp.shell.widgets('main'))"
         ".find(w => w.context && w.context.path === {name!r}))")


def open_notebook(page, url, name):
    """Open the notebook ``name`` of the JupyterLab at ``url`` and wait for its kernel; returns its panel
    (a JavaScript expression).  The first is opened by loading ``url``, the next ones inside JupyterLab:
    leaving a page with a running kernel asks for confirmation."""
    if page.evaluate("!!window.jupyterapp"):
        page.evaluate(f"window.jupyterapp.commands.execute('docmanager:open', {{path: {name!r}}}).then(() => true)")
    else:
        page.call("Page.navigate", url=url)
    panel = PANEL.format(name=name)
    page.wait(f"window.jupyterapp && {panel} && {panel}.sessionContext")
    page.evaluate(f"(async () => {{ const p = {panel}; await p.context.ready; await p.sessionContext.ready;"
                  " window.jupyterapp.shell.activateById(p.id); return true; })()")
    return panel


def close_notebook(page, panel):
    """Shut the notebook's kernel down and drop its panel (disposing asks no question about saving)."""
    page.evaluate(f"(async () => {{ const p = {panel}; await p.sessionContext.shutdown(); p.dispose();"
                  " return true; })()")


def stop(process):
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
