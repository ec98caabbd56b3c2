"""The sidebar in a real browser (Playwright + Debian's chromium, a real ``jupyter lab``): a
router's workers are listed right under it, indented, and stopping the router from the sidebar
stops the workers it launched (the registry's cascade), leaving a server it only fronts.

Screenshots land in ``test-artifacts/lab/router-*.png``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from sgl_notebook.server.registry import find_record
from tests.lab.conftest import FakeServer
from tests.lab.lab_process import LabProcess

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lab"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Overrides pytest-jupyter's autouse loop: Playwright's sync API runs its own."""


@pytest.fixture
def jp_server_cleanup() -> None:
    """Overrides pytest-jupyter's autouse cleanup: no in-process server here."""


BUILT = Path(__file__).resolve().parents[2] / "sgl_notebook" / "labextension"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LabProcess]:
    root = tmp_path / "notebooks"
    root.mkdir()
    # serve the extension as built in this checkout (JUPYTER_PATH comes first in lab's search),
    # not the copy an earlier install left in the environment
    shared = tmp_path / "jupyter-path"
    (shared / "labextensions").mkdir(parents=True)
    (shared / "labextensions" / "sgl-notebook").symlink_to(BUILT)
    monkeypatch.setenv("JUPYTER_PATH", str(shared))
    server = LabProcess(tmp_path, root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(lab: LabProcess) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"router-{name}.png"))


def alive(server: FakeServer) -> bool:
    try:
        return psutil.Process(server.process.pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_workers_nest_under_their_router_and_stop_with_it(
    page: Any, lab: LabProcess, fake_server_factory: Callable[..., FakeServer]
) -> None:
    ids = {name: uuid.uuid4().hex[:12] for name in ("grp", "grp-w1", "grp-w2", "solo")}
    solo = fake_server_factory("solo", id=ids["solo"])  # fronted, not launched by the router
    workers = [fake_server_factory(name, id=ids[name], router_id=ids["grp"])
               for name in ("grp-w1", "grp-w2")]
    router = fake_server_factory("grp", id=ids["grp"], engine="router",
                                 worker_ids=(ids["grp-w1"], ids["grp-w2"], ids["solo"]))
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/lab?token={lab.token}")
    page.locator(".sgl-ServersStatus").click()
    panel = page.locator("#sgl-notebook-servers")
    names = panel.locator(".sgl-ServerCard-name")
    expect(names).to_have_text(["grp", "grp-w1", "grp-w2", "solo"], timeout=120_000)
    cards = panel.locator(".sgl-ServerCard")
    for index, nested in enumerate([False, True, True, True]):
        has = cards.nth(index).evaluate("e => e.classList.contains('sgl-mod-worker')")
        assert has is nested, index
    router_box = cards.nth(0).bounding_box()
    worker_box = cards.nth(1).bounding_box()
    assert worker_box["x"] > router_box["x"] + 8  # indented
    shot(page, "nested")

    cards.nth(0).locator(".sgl-ServerCard-stop").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("routes to 3 workers")
    shot(page, "stop-dialog")
    dialog.get_by_role("button", name="Stop server").click()
    expect(names).to_have_text(["solo"], timeout=60_000)
    assert not alive(router) and not any(alive(w) for w in workers)
    assert alive(solo) and find_record("solo") is not None
    shot(page, "after-stop")
