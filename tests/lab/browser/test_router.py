"""The sidebar in a real browser (Playwright + Debian's chromium, a real ``jupyter lab``): a
router's workers are listed right under it, indented, and stopping the router from the sidebar
stops the workers it launched (the registry's cascade), leaving a server it only fronts.

Screenshots land in ``test-artifacts/lab-router/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from sgl_notebook.server.registry import find_record
from tests.lab.browser import kit
from tests.lab.conftest import FakeServer
from tests.lab.lab_process import LabProcess

pytestmark = kit.BROWSER_MARKS
expect = kit.expect

ARTIFACTS = kit.ARTIFACTS_ROOT / "lab-router"
BUILT = Path(__file__).resolve().parents[3] / "sgl_notebook" / "labextension"


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
    with kit.chromium_page() as page:
        yield page


def shot(page: Any, name: str) -> None:
    kit.save_shot(page, ARTIFACTS / f"{name}.png")


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
