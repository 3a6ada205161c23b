"""The pages in headless Chromium: what a person sees, offline, and nothing runs from a label."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from tagwatch.app.check import run_check
from tagwatch.core.moves import BuildInfo, Observation, Source, classify
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tests.cluster.test_skew_cli import _deployment
from tests.pages.browser import Browser, chrome, offsite, screenshot_folder, serving
from tests.pages.conftest import AppFactory
from tests.store.helpers import digest, observe
from tests.support import kube_fixtures as kf
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig
from tests.support.registry import TestRegistry

INJECTION = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chrome() as session:
        yield session


def _assert_offline(urls: list[str], base: str) -> None:
    assert urls, "the performance log recorded no request at all: the check would be blind"
    assert offsite(urls, base) == [], "a page load requested another host"


async def test_timeline_of_a_repushed_tag_shows_its_bands_and_revisions(
    browser: Browser,
    registry: TestRegistry,
    repo_name: str,
    make_app: AppFactory,
    tmp_path: Path,
) -> None:
    source = {"org.opencontainers.image.source": "https://git.example/org/app"}
    first = registry.push_image(
        repo_name,
        "prod",
        content="one",
        labels={"org.opencontainers.image.revision": "rev-one-1111", **source},
    )
    app = make_app()
    service = app.state.service
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    await run_check([ref], registry=service.registry, store=service.store)
    second = registry.push_image(
        repo_name,
        "prod",
        content="two",
        labels={"org.opencontainers.image.revision": "rev-two-2222", **source},
    )
    await run_check([ref], registry=service.registry, store=service.store, source=Source.WEBHOOK)
    with serving(app) as base:
        urls = browser.open(f"{base}/tags/{ref}")
        _assert_offline(urls, base)
        driver = browser.driver
        bands = driver.find_elements(By.CSS_SELECTOR, "svg rect.band")
        assert [b.get_attribute("data-digest") for b in bands] == [str(first), str(second)]
        revisions = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "dd.revision")]
        assert revisions == ["rev-one-1111", "rev-two-2222"]
        body = driver.find_element(By.TAG_NAME, "main").text
        assert "webhook" in body and "poll" in body and "Moved between" in body
        assert "https://git.example/org/app" in body
        # the --at lookup: "what did it point to just now?"
        field = driver.find_element(By.NAME, "at")
        field.send_keys("0s")
        field.submit()
        browser.settle()
        answer = driver.find_element(By.CSS_SELECTOR, ".answer").text
        assert str(second) in answer
        browser.screenshot(screenshot_folder(tmp_path), "timeline-repush")
    await service.registry.aclose()


def _feed_history(db_url: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    def ago(minutes: float) -> datetime:
        return now - timedelta(minutes=minutes)

    store = Store.open(db_url)
    app = ImageRef.parse("ghcr.io/acme/payments-api:prod")
    web = ImageRef.parse("ghcr.io/acme/web:stable")
    tool = ImageRef.parse("quay.io/ops/toolbox:1.4")
    build = BuildInfo(
        "application/vnd.oci.image.manifest.v1+json",
        labels={"org.opencontainers.image.revision": "9f1c2e7", "note": INJECTION},
    )
    observe(store, app, digest("pay-1"), ago(600), build=build)
    observe(store, web, digest("web-1"), ago(590))
    observe(store, tool, digest("tool-1"), ago(580))
    observe(store, app, digest("pay-1"), ago(300))
    pushed = Observation(app, digest("pay-2"), ago(290), Source.WEBHOOK, pushed_by="alice")
    with store.begin() as tx:
        tx.record(pushed, classify(tx.history(app), pushed))
    observe(store, web, digest("web-2"), ago(120))
    observe(store, app, digest("pay-1"), ago(60))
    observe(store, tool, None, ago(30))
    observe(store, tool, digest("tool-2"), ago(10))
    with store.begin() as tx:
        tx.add_watch(app, labels={"team": "payments", "owner": INJECTION})
        tx.add_watch(web, labels={"team": "web"})
    store.close()


def _rows(browser: Browser) -> list[tuple[str, str]]:
    cells = [
        row.find_elements(By.TAG_NAME, "td")
        for row in browser.driver.find_elements(By.CSS_SELECTOR, "table.moves tbody tr")
    ]
    return [(c[1].text, c[2].text) for c in cells]


def test_filters_change_the_feed_and_each_move_links_to_its_timeline(
    browser: Browser, make_app: AppFactory, db_url: str, tmp_path: Path
) -> None:
    _feed_history(db_url)
    with serving(make_app()) as base:
        _assert_offline(browser.open(base + "/"), base)
        everything = _rows(browser)
        assert len(everything) == 8 and everything[0] == ("quay.io/ops/toolbox:1.4", "restored")
        folder = screenshot_folder(tmp_path)
        browser.screenshot(folder, "feed")
        browser.screenshot(folder, "feed-narrow", width=420)

        driver = browser.driver
        driver.find_element(By.NAME, "q").send_keys("payments")
        driver.find_element(By.CSS_SELECTOR, "input[name=change][value=repointed]").click()
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        browser.settle()
        assert _rows(browser) == [("ghcr.io/acme/payments-api:prod", "repointed")]

        _assert_offline(browser.open(base + "/?label=team%3Dweb"), base)
        assert {ref for ref, _ in _rows(browser)} == {"ghcr.io/acme/web:stable"}
        browser.open(base + "/?registry=quay.io&since=20m")
        assert _rows(browser) == [("quay.io/ops/toolbox:1.4", "restored")]
        browser.open(base + "/?since=yesterday")
        assert (
            "cannot read time 'yesterday'" in driver.find_element(By.CSS_SELECTOR, ".problem").text
        )

        # keyboard: Tab reaches the first move's link, Enter opens its timeline
        browser.open(base + "/")
        link = driver.find_element(By.CSS_SELECTOR, "table.moves tbody a")
        link.send_keys("\ue007")  # Enter
        browser.settle()
        assert driver.current_url == base + "/tags/quay.io/ops/toolbox%3A1.4"
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg rect.band")) == 3


def test_html_in_a_label_renders_as_text(
    browser: Browser, make_app: AppFactory, db_url: str, tmp_path: Path
) -> None:
    _feed_history(db_url)
    with serving(make_app()) as base:
        _assert_offline(browser.open(base + "/tags/ghcr.io/acme/payments-api:prod"), base)
        driver = browser.driver
        driver.find_element(By.CSS_SELECTOR, "details summary").click()
        labels = driver.find_element(By.CSS_SELECTOR, "ul.labels").text
        assert INJECTION in labels  # shown, character for character
        assert driver.find_elements(By.CSS_SELECTOR, "main img") == []
        assert driver.find_elements(By.CSS_SELECTOR, "main script") == []
        assert driver.title != "pwned"
        pushers = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".pusher")]
        assert pushers == ["alice"]  # the webhook's actor, on the sighting it recorded
        browser.screenshot(screenshot_folder(tmp_path), "timeline")


def test_docs_work_offline(
    browser: Browser, make_app: AppFactory, db_url: str, tmp_path: Path
) -> None:
    Store.open(db_url).close()
    with serving(make_app()) as base:
        urls = browser.open(base + "/docs")
        _assert_offline(urls, base)
        assert base + "/openapi.json" in urls
        assert any(u.endswith("/static/swagger-ui/swagger-ui-bundle.js") for u in urls)
        title = browser.driver.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
        assert title.startswith("tagwatch")
        assert "/api/v1/moves" in browser.driver.find_element(By.ID, "swagger-ui").text
        browser.screenshot(screenshot_folder(tmp_path), "docs")


def test_the_offline_check_sees_a_request_to_another_host(
    browser: Browser, make_app: AppFactory, db_url: str
) -> None:
    """The check itself can fail: a page that loads from elsewhere is caught."""
    Store.open(db_url).close()
    with serving(make_app()) as base:
        browser.open(base + "/")
        browser.requested()
        browser.driver.execute_script(
            "var i = new Image(); i.src = 'http://192.0.2.1:9/pixel.png'; document.body.append(i);"
        )
        browser.settle()
        assert offsite(browser.requested(), base) == ["http://192.0.2.1:9/pixel.png"]


async def test_a_skewed_workload_is_on_the_board_with_its_pods_and_fix(
    browser: Browser,
    registry: TestRegistry,
    repo_name: str,
    make_app: AppFactory,
    tmp_path: Path,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    revision = "org.opencontainers.image.revision"
    v1 = registry.push_image(repo_name, "prod", content="v1", labels={revision: "aaa111"})
    first = make_app()
    checker = first.state.service
    await run_check([ImageRef.parse(ref)], registry=checker.registry, store=checker.store)
    v2 = registry.push_image(repo_name, "prod", content="v2", labels={revision: "bbb222"})
    await run_check([ImageRef.parse(ref)], registry=checker.registry, store=checker.store)
    await checker.registry.aclose()
    name = f"{registry.host}/{repo_name}"
    t0 = datetime.now(UTC) - timedelta(hours=1)
    api = FakeKubeAPI(
        [
            *_deployment(
                "checkout",
                ref,
                [
                    ("checkout-5d8f7b-aaaaa", "node-a", t0, f"{name}@{v1}"),
                    ("checkout-5d8f7b-bbbbb", "node-a", t0, f"{name}@{v1}"),
                    ("checkout-5d8f7b-ccccc", "node-b", t0 + timedelta(minutes=50), f"{name}@{v2}"),
                ],
            ),
            kf.node("node-a"),
            kf.node("node-b"),
        ]
    ).start()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, [KubeContext("fake", api.url)])
        app = make_app(clusters=[{"name": "prod-eu", "kubeconfig": str(kubeconfig)}])
        service = app.state.service
        await service.scan_cluster(service.settings.clusters[0])
        await service.registry.aclose()
    finally:
        api.stop()
    with serving(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.get("/api/v1/clusters/prod-eu/findings?attention=true")
            unknown = await http.get("/api/v1/clusters/nope/findings")
        assert answer.status_code == 200, answer.text
        assert unknown.status_code == 404
        (workload,) = answer.json()["workloads"]
        assert (workload["name"], workload["skewed"], answer.json()["skewed"]) == (
            "checkout",
            True,
            1,
        )
        assert sorted(p["name"] for p in workload["pods"]) == [
            "checkout-5d8f7b-aaaaa",
            "checkout-5d8f7b-bbbbb",
            "checkout-5d8f7b-ccccc",
        ]
        _assert_offline(browser.open(base + "/clusters/prod-eu"), base)
        driver = browser.driver
        (finding,) = driver.find_elements(By.CSS_SELECTOR, "section.finding")
        text = finding.text
        assert "SKEWED" in text and "deployment/checkout -n shop" in text
        rows = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in finding.find_elements(By.CSS_SELECTOR, "table.pods tbody tr")
        ]
        assert [(r[0].split()[0], r[1]) for r in rows] == sorted(
            [(v1.short, "node-a"), (v2.short, "node-b")]
        )
        by_node = {r[1]: r[2] for r in rows}
        assert "checkout-5d8f7b-aaaaa" in by_node["node-a"]
        assert "checkout-5d8f7b-bbbbb" in by_node["node-a"]
        assert "checkout-5d8f7b-ccccc" in by_node["node-b"]
        fix = finding.find_element(By.CSS_SELECTOR, "pre.fix").text
        assert "kubectl" in fix and "checkout" in fix
        episodes = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "table.episodes tbody tr")
        ]
        assert [(e[0], e[1], e[3]) for e in episodes] == [
            ("skewed", "deployment/checkout -n shop (checkout)", "open")
        ]
        browser.screenshot(screenshot_folder(tmp_path), "board")
        # the timeline names who runs each digest now
        finding.find_element(By.CSS_SELECTOR, "dd a").click()
        browser.settle()
        running = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "ul.runners li")]
        assert running == [
            "cluster prod-eu: deployment/checkout -n shop (checkout), 2 pods",
            "cluster prod-eu: deployment/checkout -n shop (checkout), 1 pod",
        ]
