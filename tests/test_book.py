"""The book (`make book`: Sphinx + MyST-NB, docs/ -> build/book/) as a reader meets it.

The build is the Makefile's (-W: a warning fails it). Then every page is served from localhost
and opened in the system Chromium (selenium, the same browser and flags as tests/test_browser.py):
no image may fail to load (naturalWidth 0), no internal link may point at a missing page or
anchor, and no page may fetch anything from outside the site (the book must read offline). A
screenshot of each page goes to build/book-screenshots/ (git-ignored).

Skips, saying what is missing, without Sphinx, MyST-NB, Chromium, chromedriver or selenium;
with CI=true it fails instead (.ci/run installs all of them).
"""
import functools
import html.parser
import http.server
import importlib.util
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from test_browser import CHROMEDRIVER, CHROMIUM, start_chromium, wait_for

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "build" / "book"
SHOTS = ROOT / "build" / "book-screenshots"


def make_book_command() -> list[str]:
    """The Makefile's book recipe, run with this interpreter (one definition of the build)."""
    found = re.search(r"^book:.*\n\t\$\(PY\) (-m sphinx .*)$", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile must have a `book` target running $(PY) -m sphinx"
    return [sys.executable, *found.group(1).split()]


def require(*modules: str, browser: bool = False) -> None:
    reason = next((f"{m} is not installed in {sys.prefix} (pip install -e '.[book,test]')"
                   for m in modules if importlib.util.find_spec(m) is None), None)
    if browser and not reason and (not any(os.access(c, os.X_OK) for c in CHROMIUM)
                                   or not os.access(CHROMEDRIVER, os.X_OK)):
        reason = "Chromium and its driver are not installed (Debian: apt-get install chromium chromium-driver)"
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI must build and test the book: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def book():
    require("sphinx", "myst_nb", "sphinx_book_theme")
    run = subprocess.run(make_book_command(), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    return BOOK


def test_book_builds_offline_with_every_page(book):
    pages = {p.relative_to(book).as_posix() for p in book.rglob("*.html")}
    study = {f"notebooks/study/{p.stem}.html" for p in (ROOT / "notebooks" / "study").glob("*.ipynb")}
    assert {"index.html", "contract.html", "running.html", "presets.html", "package.html",
            "reference.html", "notebooks/01_search.html", "notebooks/04_figures.html",
            *study} <= pages, sorted(pages)
    index = (book / "index.html").read_text()
    assert "Random Search as a Baseline" in index  # the README is the landing page
    reference = (book / "reference.html").read_text()
    for name in ("weedout.core.search.STRATEGIES", "weedout.core.search.SearchContext",
                 "weedout.core.search.random_search", "weedout.config.settings.Config",
                 "weedout.config.plugins.load_plugins", "WEEDOUT_PLUGINS"):
        assert name in reference, name


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k == "id" or (tag == "a" and k == "name"))


@functools.lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def broken(href: str, base: str, root: Path) -> str | None:
    """Why an internal link is broken (no such file, or no such anchor in it), else None."""
    url = urllib.parse.urlsplit(href)
    path = root / urllib.parse.unquote(url.path[len(urllib.parse.urlsplit(base).path):])
    if url.path.endswith("/"):
        path = path / "index.html"
    if not path.is_file():
        return f"{href}: no file {path.relative_to(root)}"
    fragment = urllib.parse.unquote(url.fragment)
    if fragment and path.suffix == ".html" and fragment not in anchors(path):
        return f"{href}: no anchor #{fragment} in {path.relative_to(root)}"
    return None


@pytest.fixture(scope="module")
def site(book):
    handler = functools.partial(_Quiet, directory=str(book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would bury pytest's report
        pass


@pytest.fixture(scope="module")
def browser(book, tmp_path_factory):
    require("selenium", browser=True)
    driver = start_chromium(tmp_path_factory.mktemp("chromium-book"))
    try:
        yield driver
    finally:
        driver.quit()


LOADED = """
    // every image fetched now (none left lazy), then: still loading, or loaded
    const imgs = [...document.images];
    imgs.forEach(i => { i.loading = 'eager'; });
    return document.readyState === 'complete' && imgs.every(i => i.complete);
"""
PAGE = """
    return {
        broken_images: [...document.images].filter(i => i.naturalWidth === 0)
                           .map(i => i.getAttribute('src')),
        images: document.images.length,
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        outside: performance.getEntriesByType('resource').map(r => r.name)
                     .filter(n => !n.startsWith(location.origin)),
    };
"""


def test_every_page_renders_its_images_and_links(book, site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.relative_to(book).as_posix() for p in book.rglob("*.html")
                   if not p.relative_to(book).parts[0].startswith("_"))
    problems, images = [], {}
    for page in pages:
        browser.get(site + page)
        wait_for(browser, LOADED, 30, f"{page}: the page and its images to load")
        seen = browser.execute_script(PAGE)
        browser.save_screenshot(str(SHOTS / (page.replace("/", "__")[:-5] + ".png")))
        images[page] = seen["images"]
        problems += [f"{page}: image did not load: {src}" for src in seen["broken_images"]]
        problems += [f"{page}: fetched from outside the site: {u}" for u in seen["outside"]]
        problems += [f"{page}: {why}" for href in seen["links"] if href.startswith(site)
                     if (why := broken(href, site, book))]
    assert not problems, "\n".join(problems)
    # the pictures a reader comes for are there: the README's figures (the headline figure
    # first) and every study notebook's
    shown = (ROOT / "README.md").read_text().count("![")
    assert shown >= 1 and images["index.html"] >= shown, images
    study = [p for p in images if p.startswith("notebooks/study/")]
    assert len(study) == len(list((ROOT / "notebooks" / "study").glob("*.ipynb"))), study
    assert all(images[p] >= 1 for p in study) and images["notebooks/study/01_claims.html"] >= 6, images


def test_link_check_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a name="old"></a>')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<p>sub</p>")
    base = "http://127.0.0.1:1/"
    assert broken(base + "a.html#top", base, tmp_path) is None
    assert broken(base + "a.html#old", base, tmp_path) is None
    assert broken(base + "sub/", base, tmp_path) is None
    assert "no anchor #gone" in broken(base + "a.html#gone", base, tmp_path)
    assert "no file b.html" in broken(base + "b.html", base, tmp_path)
