"""The workspace in a real headless Chromium (Debian `chromium` + `chromium-driver`, driven by Selenium):
people sign in as their role and walk the paths they live in. A failing test leaves a screenshot of
the page it was on under its temporary directory; `CLAIMFLOW_SCREENSHOTS=DIR` keeps one of every page."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.fakes.workspace import HELD, PASSWORD, build_workspace, web_config

pytestmark = [pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):  # .ci/run installs both; only a machine without them skips
    pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait


def challenger(uri: str) -> int:
    """A fresh `claims_risk` with one version: every gate passed, trained by someone else, alias challenger."""
    client = MlflowClient(uri, registry_uri=uri)
    try:
        client.delete_registered_model("claims_risk")
    except mlflow.exceptions.MlflowException:
        pass
    client.create_registered_model("claims_risk")
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        mlflow.log_text("weights", "model/weights.txt")
    mv = client.create_model_version("claims_risk", f"{run.info.artifact_uri}/model", run.info.run_id,
                                     tags={"trained_by": "tom.trainer"})
    for gate, reason in (("accuracy", "ROC AUC 0.812 vs champion 0.806, within tolerance"),
                         ("behaviour", "monotone in amount, invariant to wording"),
                         ("drift", "2 of 14 features drifted (14%), under 30%"),
                         ("cost", "0.0004 USD per 1,000 inferences, within budget")):
        client.set_model_version_tag("claims_risk", mv.version, f"gate.{gate}", "passed")
        client.set_model_version_tag("claims_risk", mv.version, f"gate.{gate}.detail", f'{{"reason": "{reason}"}}')
    client.set_registered_model_alias("claims_risk", "challenger", mv.version)
    return int(mv.version)


@pytest.fixture(scope="module")
def served(tmp_path_factory, mlflow_server):
    """The workspace over a small world, served by uvicorn on a free loopback port; stopped after."""
    import uvicorn

    from models.tracking import free_port
    from orchestration.web.app import create_app

    world = build_workspace(tmp_path_factory.mktemp("workspace") / "home")
    version = challenger(mlflow_server.url)
    app = create_app(web_config(world, registry_uri=mlflow_server.url, mlflow_ui_url=mlflow_server.url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workspace did not start")
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "world": world, "app": app, "version": version,
           "mlflow": mlflow_server.url}
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def browser(tmp_path, request):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    shots = Path(os.environ["CLAIMFLOW_SCREENSHOTS"]) if os.environ.get("CLAIMFLOW_SCREENSHOTS") else None
    driver.snap = lambda name: shots and (shots.mkdir(parents=True, exist_ok=True),
                                          driver.save_screenshot(str(shots / f"{name}.png")))
    failures_before = request.session.testsfailed
    yield driver
    if request.session.testsfailed > failures_before:  # this test's call failed
        path = tmp_path / f"{request.node.name}.png"
        driver.save_screenshot(str(path))
        print(f"screenshot of the failing page: {path}")
    driver.quit()


def sign_in(driver, base: str, username: str, path: str = "/") -> None:
    driver.get(base + path)
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "whoami")))


def test_a_reviewer_decides_an_item_end_to_end(served, browser):
    base = served["url"]
    browser.get(base + "/review")
    assert "/login" in browser.current_url  # anonymous: sent to sign in first
    sign_in(browser, base, "rene.reviewer", "/review")
    browser.snap("review_queue")
    browser.find_element(By.LINK_TEXT, HELD).click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "claim")))
    # The hostile e-mail rendered inert: its script never ran, its pixel never loaded.
    assert browser.title != "pwned" and "tracker.example" not in browser.page_source
    assert browser.find_element(By.ID, "unsure-field").text.startswith("policy number")
    browser.snap("decision_view")
    browser.find_element(By.ID, "claim").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "decide-form")))
    browser.find_element(By.ID, "override").click()
    Select(browser.find_element(By.ID, "override-queue")).select_by_value("specialist")
    browser.find_element(By.ID, "reason").send_keys("two cars involved, bodywork and glass")
    browser.snap("decision_form")
    browser.find_element(By.ID, "decide").click()
    WebDriverWait(browser, 10).until(ec.text_to_be_present_in_element((By.ID, "item-status"), "decided"))
    assert "Decided by rene.reviewer" in browser.find_element(By.ID, "decided").text
    item = served["app"].state.queue.show(HELD)
    assert (item["decided_by"], item["final_queue"]) == ("rene.reviewer", "specialist")
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "login-form")))


def test_a_risk_officer_approves_a_challenger(served, browser):
    base, version = served["url"], served["version"]
    sign_in(browser, base, "rita.risk")
    assert browser.current_url.endswith("/models")  # a risk officer starts on model approvals
    card = browser.find_element(By.ID, f"version-{version}")
    assert "Drift gate passed: 2 of 14 features drifted" in card.text and "{" not in card.text
    browser.snap("model_approvals")
    card.find_element(By.CSS_SELECTOR, "input.reason").send_keys("recall up, drift clean")
    card.find_element(By.CSS_SELECTOR, "button.approve").click()
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.ID, "flash")))
    assert browser.find_element(By.ID, "flash").text == f"version {version} approved by rita.risk"
    tags = MlflowClient(served["mlflow"]).get_model_version("claims_risk", str(version)).tags
    assert (tags["approval.status"], tags["approval.by"]) == ("approved", "rita.risk")
    browser.get(base + "/monitoring")
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "kpis")))
    browser.snap("monitoring")
    browser.get(base + f"/audit?claim={HELD}")
    assert "Chain intact" in browser.find_element(By.ID, "verify").text
    browser.snap("audit")


def test_a_handler_is_refused_model_approvals(served, browser):
    base = served["url"]
    sign_in(browser, base, "hana.handler")
    assert "Model approvals" not in browser.find_element(By.TAG_NAME, "nav").text
    browser.get(base + "/models")
    message = browser.find_element(By.ID, "error-message").text
    assert message == "hana.handler may not see model versions (needs role admin or reviewer or risk_officer)"
    browser.snap("handler_refused")
