#!/usr/bin/env python3
"""The operator console in a real browser: Debian's chromium driven by selenium (chromium-driver),
against a child `pushd serve --demo` with the console on and two apps.

    python3 Tests/Browser/console_test.py PATH/TO/pushd [--screenshots DIR]

Each check is one function; the run stops at the first failure with the page's text. With
--screenshots, every page is saved as a PNG (the README's pictures come from such a run).
"""
import argparse
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

APP = 1400000000
OTHER_APP = 1400000001
PASSWORD = "browser-test-password"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = f"""
listen: "127.0.0.1:0"
templates: {REPO}/Templates
console:
  enabled: true
  session_minutes: 30
apps:
  - sdkappid: {APP}
    admin: administrator
    app_name: Demo IM
  - sdkappid: {OTHER_APP}
    admin: other_admin
    app_name: Other IM
dispatcher:
  backoff_base_ms: 100
"""


class Failure(Exception):
    pass


class Run:
    def __init__(self, pushd, screenshots):
        self.pushd = pushd
        self.screenshots = screenshots
        self.folder = tempfile.mkdtemp(prefix="pushd-console-")
        config = os.path.join(self.folder, "pushd.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        env = dict(os.environ, PUSHD_CONSOLE_PASSWORD=PASSWORD, PUSHD_CONSOLE_SESSION_KEY="browser-test-session-key")
        self.log = open(os.path.join(self.folder, "pushd.log"), "w+")
        self.child = subprocess.Popen(
            [pushd, "serve", "--demo", "--config", config, "--data", self.folder],
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True,
        )
        self.port = None
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.child.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        if self.port is None:
            raise Failure("pushd serve did not start: " + self.pushd_log())
        self.base = f"http://127.0.0.1:{self.port}"
        demo = open(os.path.join(self.folder, "emulator", "pushd-emulator.yaml")).read()
        self.key = re.search(r'secret_key: "(.*)"', demo).group(1)
        self.emulator = re.search(r'endpoint: "(https://127\.0\.0\.1:\d+)', demo).group(1)
        self.ca = os.path.join(self.folder, "emulator", "ca.pem")
        options = webdriver.ChromeOptions()
        for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--disable-gpu"]:
            options.add_argument(flag)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.browser = webdriver.Chrome(service=Service(driver_path), options=options)

    def close(self):
        try:
            self.browser.quit()
        finally:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.child.kill()

    def pushd_log(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    # --- the REST API and the emulator, as an IM server and a test would use them ---

    def usersig(self, identifier, key=None, sdkappid=APP):
        return subprocess.check_output(
            [self.pushd, "usersig", "--sdkappid", str(sdkappid), "--key", key or self.key, "--identifier", identifier], text=True
        ).strip()

    def rest(self, command, body, sdkappid=APP, admin="administrator"):
        query = f"sdkappid={sdkappid}&identifier={admin}&usersig={self.usersig(admin, sdkappid=sdkappid)}&random=1&contenttype=json"
        request = urllib.request.Request(f"{self.base}/v4/{command}?{query}", data=json.dumps(body).encode(), method="POST")
        reply = json.loads(urllib.request.urlopen(request, timeout=30).read())
        if reply.get("ErrorCode") != 0:
            raise Failure(f"{command}: {reply}")
        return reply

    def emulator_fault(self, fault):
        context = ssl.create_default_context(cafile=self.ca)
        request = urllib.request.Request(f"{self.emulator}/admin/faults", data=json.dumps(fault).encode(), method="POST")
        urllib.request.urlopen(request, timeout=10, context=context).read()

    # --- the browser ---

    def open(self, path):
        self.browser.get(self.base + path)

    def text(self):
        # A page that reloads itself (or a form just submitted) can replace the body between
        # finding it and reading it: read again.
        for _ in range(20):
            try:
                return self.browser.find_element(By.TAG_NAME, "body").text
            except (StaleElementReferenceException, NoSuchElementException):
                time.sleep(0.1)
            except WebDriverException as error:
                # Chromium reports a body replaced mid-read this way instead of as stale.
                if "does not belong to the document" not in str(error):
                    raise
                time.sleep(0.1)
        return self.browser.find_element(By.TAG_NAME, "body").text

    def expect(self, condition, what):
        if not condition:
            raise Failure(f"{what}\n--- page {self.browser.current_url} ---\n{self.text()[:3000]}")

    def wait_for(self, predicate, what, seconds=60):
        try:
            WebDriverWait(
                self.browser, seconds, poll_frequency=0.25, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]
            ).until(lambda _: predicate())
        except TimeoutException:
            raise Failure(f"timed out waiting for {what}\n--- page {self.browser.current_url} ---\n{self.text()[:3000]}\n--- pushd log ---\n{self.pushd_log()}")

    def fill(self, field_id, value):
        element = self.browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def click(self, text):
        for button in self.browser.find_elements(By.TAG_NAME, "button"):
            if button.text.strip() == text:
                button.click()
                return
        raise Failure(f"no button {text!r} on {self.browser.current_url}")

    def shot(self, name):
        if self.screenshots:
            os.makedirs(self.screenshots, exist_ok=True)
            self.browser.execute_script("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
            height = self.browser.execute_script("return Math.min(2400, document.body.scrollHeight)")
            self.browser.set_window_size(1280, max(700, height))
            self.browser.save_screenshot(os.path.join(self.screenshots, name + ".png"))
            self.browser.set_window_size(1280, 1000)

    def cookie(self):
        return next(c["value"] for c in self.browser.get_cookies() if c["name"] == "pushd_console")


def token(n):
    return "%064x" % n


def seed(run):
    """Accounts and devices, as the IM server would register them."""
    run.rest("im_open_login_svc/multiaccount_import", {"AccountList": [{"UserID": "bob"}] + [{"UserID": f"fan{i}"} for i in range(30)]})
    run.rest("pushd/register_device", {"UserID": "bob", "DeviceId": "bob-iphone", "Vendor": "apns", "Token": token(1)})
    run.rest("pushd/register_device", {"UserID": "bob", "DeviceId": "bob-huawei", "Vendor": "huawei", "Token": "huawei-token-bob-0001", "Locale": "en"})
    for i in range(30):
        run.rest("pushd/register_device", {"UserID": f"fan{i}", "DeviceId": "phone", "Vendor": "fcm", "Token": f"fcm-token-fan-{i:04d}"})


def check_sign_in(run):
    run.open("/console")
    run.wait_for(lambda: "Sign in" in run.browser.title, "the sign-in page")
    # A wrong password is refused, and says so.
    run.fill("password", "not-the-password")
    run.click("Sign in with the password")
    run.wait_for(lambda: "Sign-in refused" in run.text(), "a refused sign-in")
    run.shot("signin")
    # The other app's admin, with a UserSig made with that app's key, sees that app only.
    other_key = run.key  # --demo gives every app without a key the demo key
    run.fill("sdkappid", str(OTHER_APP))
    run.fill("identifier", "other_admin")
    run.fill("usersig", run.usersig("other_admin", other_key, sdkappid=OTHER_APP))
    run.click("Sign in with UserSig")
    run.wait_for(lambda: "Overview" in run.browser.title, "the overview after a UserSig sign-in")
    options = [o.text for o in Select(run.browser.find_element(By.ID, "app-picker")).options]
    run.expect(options == [f"{OTHER_APP} · Other IM"], f"an app admin sees only their app, not {options}")
    run.open(f"/console/devices?app={APP}&user=bob")
    run.expect("No such app" in run.text(), "another app's page is refused to an app admin")
    # A form posted without the session's CSRF token is refused, even with the cookie.
    request = urllib.request.Request(
        f"{run.base}/console/dead-letters", data=f"app={OTHER_APP}&do=purge-all&confirmed=yes".encode(), method="POST",
        headers={"Cookie": f"pushd_console={run.cookie()}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        raise Failure("a POST without a CSRF token was accepted")
    except urllib.error.HTTPError as error:
        run.expect(error.code == 403, f"a POST without a CSRF token is 403, got {error.code}")
    run.open("/console/overview")
    run.click("Sign out (other_admin)")
    run.wait_for(lambda: "Sign in" in run.browser.title, "the sign-in page after signing out")
    run.open("/console/overview")
    run.expect("Sign in" in run.browser.title, "signed out: the overview sends to the sign-in page")
    # The console password opens every app.
    run.fill("password", PASSWORD)
    run.click("Sign in with the password")
    run.wait_for(lambda: "Overview" in run.browser.title, "the overview after the password sign-in")
    options = [o.text for o in Select(run.browser.find_element(By.ID, "app-picker")).options]
    run.expect(len(options) == 2, f"the console password sees both apps, got {options}")


def check_test_push_and_lookup(run):
    run.open(f"/console/test-push?app={APP}&user=bob")
    run.fill("t-text", "hello from the console")
    run.click("Preview")
    run.wait_for(lambda: "Preview" in [h.text for h in run.browser.find_elements(By.TAG_NAME, "h2")], "the preview")
    page = run.text()
    run.expect("bob-iphone · apns" in page and "bob-huawei · huawei" in page, "a preview per device of bob")
    run.expect('"body" : "hello from the console"' in page or "hello from the console" in page, "the preview carries the text")
    run.expect("/3/device/" + token(1) in page, "the APNs preview is the request to bob's token")
    run.shot("test-push")
    run.click("Send")
    run.wait_for(lambda: "Push lookup" in run.browser.title, "the lookup after sending")
    run.expect("The test push was queued." in run.text(), "the send says it was queued")
    # The page refreshes itself until the job has finished.
    run.wait_for(lambda: run.text().count("Delivered") >= 2 and "Finished at" in run.text(), "both of bob's devices delivered", 60)
    page = run.text()
    run.expect("Request sent at" in page, "the request that was sent is shown")
    for details in run.browser.find_elements(By.TAG_NAME, "details"):
        if not details.get_attribute("open"):
            details.find_element(By.TAG_NAME, "summary").click()
    run.expect("hello from the console" in run.text(), "the sent request carries the text")
    run.shot("lookup")
    # The emulator got it: the console did not make it up.
    delivered = json.loads(urllib.request.urlopen(f"{run.base}/emulator/requests?vendor=apns", timeout=10).read())
    run.expect(any("hello from the console" in json.dumps(r) for r in delivered), "the APNs emulator received the test push")
    # The same push found by user alone.
    run.open(f"/console/lookup?app={APP}&user=bob")
    run.expect(run.text().count("Delivered") >= 2, "the user's latest pushes list it")


def check_campaign(run):
    reply = run.rest(
        "all_member_push/im_push",
        {"MsgRandom": 42, "MsgLifeTime": 3600, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "big sale"}}]},
    )
    task = reply["TaskId"]
    run.open(f"/console/campaigns?app={APP}")
    row = f"//tr[@data-task='{task}']"
    run.wait_for(lambda: run.browser.find_elements(By.XPATH, row), "the campaign in the list")
    # The list refreshes itself; the campaign reaches 100 %.
    def finished():
        cells = run.browser.find_elements(By.XPATH, row)
        return cells and "Finished" in cells[0].text and "100 %" in cells[0].text

    run.wait_for(finished, "the campaign at 100 %", 90)
    progress = run.browser.find_element(By.XPATH, row + "//progress")
    run.expect(progress.get_attribute("value") == "100", "the progress bar is full")
    cells = run.browser.find_element(By.XPATH, row).text
    run.expect("31" in cells, f"31 users selected (bob and 30 fans): {cells}")
    run.shot("campaigns")


def check_dead_letter_replay(run):
    # The emulator refuses the next APNs push for good (400 PayloadTooLarge is permanent).
    run.emulator_fault({"vendor": "apns", "remaining": 1, "status": 400, "reason": "PayloadTooLarge"})
    run.open(f"/console/test-push?app={APP}&user=bob")
    run.fill("t-device", "bob-iphone")
    run.fill("t-text", "this one dies first")
    run.click("Send")
    run.wait_for(lambda: "Dead letter" in run.text() and "PayloadTooLarge" in run.text(), "the dead letter in the lookup")
    run.open(f"/console/dead-letters?app={APP}&vendor=apns")
    run.wait_for(lambda: "PayloadTooLarge" in run.text(), "the dead letter in the list")
    run.expect("1 dead letters match" in run.text(), "one dead letter matches the filter")
    run.shot("dead-letters")
    run.browser.find_element(By.CSS_SELECTOR, "input[name=id]").click()
    run.click("Replay selected")
    run.wait_for(lambda: "turned back into jobs" in run.text(), "the replay notice")
    run.expect("0 dead letters match" in run.text(), "the replayed letter left the list")
    # The replayed job goes to the device again, and this time it is delivered.
    def replayed():
        delivered = json.loads(urllib.request.urlopen(f"{run.base}/emulator/requests?vendor=apns", timeout=10).read())
        return sum("this one dies first" in json.dumps(r) for r in delivered) >= 2

    run.wait_for(replayed, "the replayed push at the emulator", 60)


def check_other_pages(run):
    run.open(f"/console/overview?app={APP}")
    page = run.text()
    run.expect("Sends per second, last hour" in page and "delivered" in page, "the overview charts the deliveries")
    run.expect(run.browser.find_elements(By.CSS_SELECTOR, "svg.chart polyline"), "the chart has a line")
    run.expect("PayloadTooLarge" in page, "the last errors list the refused push")
    run.shot("overview")
    run.open(f"/console/devices?app={APP}&user=bob")
    page = run.text()
    run.expect("bob-iphone" in page and "bob-huawei" in page and "PushOnline" in page, "bob's devices")
    run.shot("devices")
    run.open(f"/console/config?app={APP}")
    page = run.text()
    run.expect("secret_key" in page and "•••••• (set)" in page, "the config masks the secrets")
    run.expect(run.key not in page, "the app's key never reaches the page")
    run.shot("config")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pushd")
    parser.add_argument("--screenshots")
    args = parser.parse_args()
    run = Run(os.path.abspath(args.pushd), args.screenshots)
    checks = [check_sign_in, check_test_push_and_lookup, check_campaign, check_dead_letter_replay, check_other_pages]
    try:
        seed(run)
        for check in checks:
            started = time.time()
            check(run)
            print(f"console: {check.__name__} passed in {time.time() - started:.1f} s", flush=True)
    except Failure as failure:
        print(f"console: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    finally:
        run.close()
    print(f"console: all {len(checks)} browser checks passed")


if __name__ == "__main__":
    main()
