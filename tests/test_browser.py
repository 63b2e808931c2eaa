"""The four notebooks as a JupyterLab user meets them, in a real browser.

JupyterLab from this Python's environment serves a temporary copy of the repository (so nothing
tracked changes and the results land in the copy); the system's Chromium, driven by selenium
through the system's chromedriver, opens each notebook in order from JupyterLab's file browser,
clicks Run > Run All Cells, waits until the kernel is idle and every code cell has run, saves
with File > Save Notebook and reads the saved notebook back through the Jupyter REST API: in
JupyterLab 4 an error and a plain stderr write look alike in the page, the file tells them
apart. Then: no error output and no stderr, progress bars were shown and none is left on screen
(tqdm closed with leave=False removes its widget; a frozen one stays), and 04_figures shows a
rendered image. A screenshot of each notebook goes to build/screenshots/ (git-ignored; CI keeps
it as an artifact).

Skips, saying what is missing, without Chromium, chromedriver, selenium or JupyterLab; with
CI=true it fails instead, because CI installs all of them (.ci/run, the test extra).
"""
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
NAMES = ("01_search", "02_training", "03_analysis", "04_figures")
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")
# JupyterLab settings for the temporary user: no news fetching (no network here); no windowed
# notebook, so that every cell, a frozen progress bar far above included, is in the page.
SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"}}


def missing() -> str | None:
    chromium = next((c for c in CHROMIUM if os.access(c, os.X_OK)), None)
    if not chromium or not os.access(CHROMEDRIVER, os.X_OK):
        return ("Chromium and its driver are not installed (Debian: apt-get install chromium "
                f"chromium-driver; looked for {' or '.join(CHROMIUM)} and {CHROMEDRIVER})")
    for module in ("selenium", "jupyterlab", "ipywidgets"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed in {sys.prefix} (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def prerequisites():
    reason = missing()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser test: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(prerequisites, tmp_path_factory):
    """JupyterLab on a free localhost port, with a token, serving a copy of the repository."""
    tmp = tmp_path_factory.mktemp("lab")
    repo = tmp / "repo"
    shutil.copytree(ROOT / "weedout", repo / "weedout",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "notebooks").mkdir()
    for name in NAMES:
        shutil.copy2(ROOT / "notebooks" / f"{name}.ipynb", repo / "notebooks")
    # a clone has its pyproject.toml beside the notebooks (paths.CLONE): outputs go to its root
    shutil.copy2(ROOT / "pyproject.toml", repo)
    for path, value in SETTINGS.items():
        (tmp / "settings" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "settings" / path).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items()
           if k not in ("WEEDOUT_QUIET", "WEEDOUT_PRESET")}  # as a user has it: bars, defaults
    env.update(PYTHONPATH=str(repo),  # the kernels import the copy, so its results stay in it
               JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    log = open(tmp / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={repo / 'notebooks'}", "--allow-root",
         "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the notebook model
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=repo)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(tmp / 'jupyterlab.log').read_text()}")
                time.sleep(0.5)
        yield {"url": url, "token": token, "repo": repo, "log": tmp / "jupyterlab.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def start_chromium(profile: Path):
    """The system Chromium through the system chromedriver, headless (FLAGS), with a fresh
    profile folder (tests/test_book.py drives it the same way)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(c for c in CHROMIUM if os.access(c, os.X_OK))
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, timeout: float, what: str, *args):
    """Poll a JavaScript expression until it returns something truthy."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def click_menu(driver, menu: str, item: str):
    """Open a menu of JupyterLab's menu bar and click one of its items, as a user does."""
    from selenium.webdriver.common.by import By

    bar = driver.find_element(By.XPATH, f"//li[contains(@class, 'lm-MenuBar-item')]"
                                        f"[.//div[normalize-space(text())='{menu}']]")
    bar.click()
    entry = wait_for(driver, """
        return [...document.querySelectorAll('.lm-Menu .lm-Menu-item')].find(
            e => e.getClientRects().length
                 && e.querySelector('.lm-Menu-itemLabel')?.textContent.trim() === arguments[0]);
        """, 10, f"menu item {menu} > {item}", item)
    entry.click()


def open_notebook(driver, name: str):
    """Double-click the notebook in the file browser; wait for its kernel."""
    from selenium.webdriver.common.action_chains import ActionChains

    item = wait_for(driver, """
        return [...document.querySelectorAll('.jp-DirListing-item')].find(
            e => e.getClientRects().length  // the visible file browser, not a hidden copy
                 && e.querySelector('.jp-DirListing-itemText')?.textContent.trim() === arguments[0]);
        """, 30, f"{name}.ipynb in the file browser", f"{name}.ipynb")
    ActionChains(driver).double_click(item).perform()
    wait_for(driver, """
        const w = window.jupyterapp.shell.currentWidget;
        return w && w.context && w.context.path === arguments[0] && w.sessionContext.isReady
            && w.sessionContext.session?.kernel?.status === 'idle';
        """, 60, f"{name}: the kernel to start", f"{name}.ipynb")


PROGRESS = """
    // each code cell: ran (has a count) or not; any error output; the kernel's status
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.model.cells;
    let code = 0, ran = 0, errors = 0;
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i);
        if (c.type !== 'code') continue;
        code++;
        if (c.executionCount !== null) ran++;
        errors += c.outputs.toJSON().filter(o => o.output_type === 'error').length;
    }
    return {code, ran, errors, status: w.sessionContext.session?.kernel?.status};
"""

VISIBLE_BARS = """
    // tqdm bars still on screen: a widget box with a percentage ("search: 75%|...| 3/4"); a
    // closed bar (leave=False) has no view left
    const w = window.jupyterapp.shell.currentWidget;
    return [...w.node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets.widget-hbox')]
        .filter(e => e.getClientRects().length && /\\d+%/.test(e.innerText))
        .map(e => e.innerText.replace(/\\s+/g, ' ').trim());
"""

IMAGES = """
    // rendered figures: loaded <img> elements in the outputs; scroll the first into view
    const w = window.jupyterapp.shell.currentWidget;
    const imgs = [...w.node.querySelectorAll('.jp-OutputArea-output img')]
        .filter(i => i.complete && i.naturalWidth > 0);
    if (imgs.length) imgs[0].scrollIntoView({block: 'start'});
    return imgs.length;
"""


def saved_notebook(lab, name: str) -> dict:
    request = urllib.request.Request(f"{lab['url']}/api/contents/{name}.ipynb?content=1",
                                     headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["content"]


def outputs(nb: dict) -> list[dict]:
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]


def test_notebooks_run_all_in_jupyterlab(lab, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(f"{lab['url']}/lab?token={lab['token']}")
    wait_for(browser, "return window.jupyterapp && document.querySelector('#jp-MainMenu')",
             60, "JupyterLab to load")
    for name in NAMES:
        open_notebook(browser, name)
        click_menu(browser, "Run", "Run All Cells")
        state = wait_for(browser, f"""
            const s = (() => {{ {PROGRESS} }})();
            return s.status === 'idle' && (s.ran === s.code || s.errors > 0) ? s : null;
            """, 300, f"{name}: every cell to run")
        if name == "04_figures":
            wait_for(browser, IMAGES, 30, f"{name}: a rendered figure")
        click_menu(browser, "File", "Save Notebook")
        wait_for(browser, "return !window.jupyterapp.shell.currentWidget.context.model.dirty",
                 30, f"{name} to be saved")
        browser.save_screenshot(str(SHOTS / f"{name}.png"))
        nb = saved_notebook(lab, name)
        errors = [f"{o['ename']}: {o['evalue']}" for o in outputs(nb) if o["output_type"] == "error"]
        stderr = ["".join(o["text"]) for o in outputs(nb)
                  if o["output_type"] == "stream" and o["name"] == "stderr"]
        assert not errors, f"{name}: error output {errors}"
        assert not stderr, f"{name}: stderr output {stderr}"
        assert state["ran"] == state["code"]
        assert all(c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code")
        assert browser.execute_script(VISIBLE_BARS) == [], f"{name}: a progress bar stayed"
        widgets = [o for o in outputs(nb)
                   if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        if name in ("01_search", "02_training"):  # they were shown (and then removed)
            assert widgets, f"{name}: no progress bar was shown at all"
        if name == "04_figures":
            assert any("image/png" in o.get("data", {}) for o in outputs(nb))
            assert browser.execute_script(IMAGES) >= 1
        browser.execute_script(  # free the kernel's memory before the next notebook
            "const w = window.jupyterapp.shell.currentWidget;"
            "return w.sessionContext.shutdown().then(() => w.close());")
    # the runs wrote into the copy, never into the repository
    assert (lab["repo"] / "results" / "smoke" / "stats.csv").exists()
    assert (lab["repo"] / "figures" / "smoke" / "accuracy_vs_sparsity.png").exists()
