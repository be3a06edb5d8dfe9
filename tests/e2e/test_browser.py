"""The web app in a real browser (Chromium, driven by Playwright) against the app served on
loopback, over a database filled by real agency emails (tests/e2e/browser_kit.py): signing in,
working one item of each exception reason to its end and seeing its case change, downloading
an original, signing out, hostile text from mail staying text, CSRF, and axe-core on every
page type. Screenshots of the queue, an item and a case go to tests/artifacts/ and
docs/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from core.cases import ExceptionReason
from tests.e2e import browser_kit
from tests.e2e.browser_kit import (
    ACROSS_THE_FOLD,
    AXE,
    CONFLICT_REFERENCE,
    FORMULA,
    HOSTILE_FILENAME,
    HOSTILE_NOTE,
    HOSTILE_SUBJECT,
    HOSTILE_VALUE,
    IMAGE,
    LONG_SUBJECT,
    MARKUP,
    SCRIPT,
    Site,
    save_screenshot,
)
from tests.fixtures.sample import CASE_REFERENCE

#: the module's fixtures: the app served on loopback over its data, and one Chromium
site = browser_kit.site
browser = browser_kit.browser

#: a sentence the person adds to a reply before it goes
EDIT = "We have added this line by hand: please call the business unit if anything is unclear."
INJECTED = "img, b, i, svg:not(.govuk-pagination__icon), [onerror], main script, iframe, object, embed"


@dataclass(frozen=True)
class Work:
    """How one item is worked through the browser, and what its case shows afterwards."""

    action: str
    #: the action's button ("Check the reply" when the action replies)
    label: str
    #: form fields: label -> value (a select's option text, or a text input's value)
    fields: dict[str, str] = field(default_factory=dict)
    #: the reply is shown first, edited and sent
    reply: bool = False
    #: the case whose page changes
    case: str = CASE_REFERENCE
    #: the file now on the case's page (None: the case's history shows the action)
    document: str | None = None
    #: what the case's history shows ("": the document is the change)
    history: str = ""


WORK: dict[str, Work] = {
    "unknown_sender": Work(
        "accept_as_agency",
        "Accept as an agency",
        {"Agency the email is from": "Northern Care Alliance"},
        reply=True,
        document="Agency summary report.docx",
    ),
    "no_case": Work(
        "link_to_case",
        "Link to a case",
        {"Case reference": CASE_REFERENCE},
        reply=True,
        document="Chronology.xlsx",
        history="Queue: link to case",
    ),
    "case_conflict": Work(
        "correct",
        "File under the case it names and ask for a correction",
        reply=True,
        case=CONFLICT_REFERENCE,
        document="Chronology.xlsx",
        history="Queue: correct",
    ),
    "possible_duplicate": Work(
        "merge_into_case",
        "Merge into the existing case",
        reply=True,
        document="Rapid review referral - Salford Education.docx",
        history="Queue: merge into case",
    ),
    "unrecognised_document": Work(
        "file_as_supporting", "File as a supporting document", document="GMP notes.docx", history="Case: filed"
    ),
    "unsafe_file": Work("reject_with_reply", "Reject and reply", reply=True, history="Queue: reject with reply"),
    "no_attachment": Work(
        "link_as_correspondence",
        "Link to a case as correspondence",
        {"Case reference": CASE_REFERENCE},
        history="Case: correspondence",
    ),
    "processing_fault": Work("retry", "Retry", document="GMP chronology.xlsx"),
}


def test_one_item_of_every_exception_reason_is_worked() -> None:
    assert {reason.value for reason in ExceptionReason} == set(WORK)


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def clerk(site: Site, browser: Browser) -> Iterator[Page]:
    """A page signed in as the business unit's clerk."""
    page = site.page(browser, "business_unit")
    yield page
    page.context.close()


def main_text(page: Page) -> str:
    return page.locator("main").inner_text()


def case_changes(page: Page, work: Work) -> tuple[int, int]:
    """On a case page: how many documents carry the work's file, and how many history rows
    record its action."""
    files = 0
    if work.document is not None:
        name = re.compile(f"^{re.escape(work.document)}$")
        files = page.locator(".govuk-summary-card").filter(has=page.get_by_text(name)).count()
    rows = 0
    if work.history:
        history = page.locator("table").filter(has=page.locator("caption", has_text="History"))
        rows = history.locator("tbody tr").filter(has_text=work.history).count()
    return files, rows


def fill_action(page: Page, work: Work, note: str) -> None:
    form = page.locator(f"form#action-{work.action}")
    for label, value in work.fields.items():
        control = form.get_by_label(re.compile(f"^{re.escape(label)}"))
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    form.get_by_label("Note (optional)").fill(note)
    form.get_by_role(
        "button", name=re.compile(f"^{re.escape('Check the reply' if work.reply else work.label)}")
    ).click()


def edit_and_confirm_reply(page: Page, work: Work) -> str:
    """On the preview: the reply is shown; add a sentence, choose to send it, confirm."""
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check the reply")
    reply = page.get_by_label("Reply", exact=True)
    composed = reply.input_value()
    assert "Child A" not in composed  # replies name the case reference only
    reply.fill(composed.rstrip() + "\n\n" + EDIT + "\n")
    send = page.get_by_label("Yes, send this reply")
    if send.count():
        send.check()
    page.get_by_role("button", name=re.compile("^Confirm")).click()
    return composed


def run_axe(page: Page) -> list[dict[str, object]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return list(result["violations"])


# -- hostile text from mail ------------------------------------------------------------------------


class Watched:
    """A page whose dialogs are recorded (and dismissed), with the CSP switched off so that only
    escaping stands between the text and the page."""

    def __init__(self, site: Site, browser: Browser, role: str) -> None:
        self.page = site.page(browser, role, bypass_csp=True)
        self.dialogs: list[str] = []
        self.page.on("dialog", self.dismiss)
        self.site = site

    def dismiss(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, path: str) -> Page:
        self.page.goto(self.site.url(path))
        self.assert_inert()
        return self.page

    def assert_inert(self) -> None:
        self.page.wait_for_load_state("load")
        injected = self.page.locator(INJECTED).evaluate_all("found => found.map(e => e.outerHTML)")
        assert [] == injected
        assert [] == self.dialogs


def test_hostile_text_from_mail_is_shown_as_inert_text_on_every_page(site: Site, browser: Browser) -> None:
    item_id = site.items["hostile"]
    clerk = Watched(site, browser, "business_unit")

    queue = clerk.visit("/queue")
    assert HOSTILE_SUBJECT in main_text(queue)
    queue.get_by_label("Search", exact=True).fill(IMAGE)
    queue.get_by_role("button", name="Search", exact=True).click()
    clerk.assert_inert()
    assert IMAGE == queue.get_by_label("Search", exact=True).input_value()

    item = clerk.visit(f"/queue/{item_id}")
    item.locator("details summary").first.click()
    shown = main_text(item)
    for text in (HOSTILE_SUBJECT, HOSTILE_FILENAME, HOSTILE_VALUE, SCRIPT, MARKUP, FORMULA):
        assert text in shown, text
    clerk.assert_inert()

    form = item.locator("form#action-open_new_case")
    form.get_by_label("Note (optional)").fill(HOSTILE_NOTE)
    form.get_by_role("button", name=re.compile("^Check the reply")).click()
    clerk.assert_inert()
    assert HOSTILE_NOTE in main_text(item)
    item.get_by_role("button", name=re.compile("^Confirm")).click()
    clerk.assert_inert()
    assert HOSTILE_NOTE in main_text(item)
    reference = item.locator(".govuk-notification-banner").get_by_role("link", name=re.compile("^Go to case"))
    case_path = reference.get_attribute("href")
    assert case_path is not None

    case = clerk.visit(case_path)
    case_text = main_text(case)
    assert IMAGE in case_text  # in the child's name, read from the form
    assert HOSTILE_FILENAME in case_text
    clerk.visit("/cases")
    clerk.page.context.close()

    admin = Watched(site, browser, "admin")
    audit = admin.visit("/audit")
    assert HOSTILE_NOTE in main_text(audit)
    admin.visit("/admin/users")
    admin.page.context.close()


# -- screenshots (before the items are worked) -----------------------------------------------


def test_screenshots_of_the_queue_an_item_and_a_case_are_saved(site: Site, browser: Browser) -> None:
    page = site.page(browser, "business_unit", viewport={"width": 1280, "height": 900})
    shots = []
    for name, path, heading in (
        ("queue", "/queue", "Exception queue"),
        ("item", f"/queue/{site.items['spare']}", "No case"),
        ("case", f"/cases/{CASE_REFERENCE}", f"Case {CASE_REFERENCE}"),
    ):
        page.goto(site.url(path))
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        shots.append(save_screenshot(page, name))

    assert all(shot.stat().st_size > 10_000 for shot in shots)
    page.context.close()


# -- signing in ------------------------------------------------------------------------------------


def test_a_person_signs_in_on_the_gov_uk_sign_in_page_and_reaches_the_queue(site: Site, browser: Browser) -> None:
    page = site.page(browser)
    page.goto(site.url("/queue"))

    expect(page).to_have_url(re.compile(r"/sign-in"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email address", exact=True).fill(site.users["business_unit"])
    page.get_by_label("Password", exact=True).fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(site.url("/queue"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Exception queue")
    assert "Showing 1 to" in main_text(page)
    page.context.close()


def test_a_wrong_password_is_refused_with_the_gov_uk_error_summary(site: Site, browser: Browser) -> None:
    page = site.page(browser)
    page.goto(site.url("/sign-in"))
    page.get_by_label("Email address", exact=True).fill(site.users["viewer"])
    page.get_by_label("Password", exact=True).fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page).to_have_title(re.compile("^Error: "))
    page.context.close()


# -- one item of each reason, worked to its end ---------------------------------------------------


@pytest.mark.parametrize("reason", list(WORK))
def test_an_item_of_each_reason_is_worked_to_its_end_and_its_case_changes(site: Site, clerk: Page, reason: str) -> None:
    work = WORK[reason]
    item_id = site.items[reason]
    clerk.goto(site.url(f"/cases/{work.case}"))
    before = case_changes(clerk, work)
    clerk.goto(site.url("/queue"))
    clerk.get_by_role("link", name=f"Item {item_id}", exact=True).click()
    expect(clerk).to_have_url(site.url(f"/queue/{item_id}"))

    fill_action(clerk, work, note=f"Worked in the browser ({reason.replace('_', ' ')})")
    composed = edit_and_confirm_reply(clerk, work) if work.reply else None

    banner = clerk.locator(".govuk-notification-banner--success")
    expect(banner).to_be_visible()
    expect(clerk.locator("form[id^=action-]")).to_have_count(0)
    assert "closed" == site.item_status(item_id)
    if composed is not None:
        sent = [*site.action_replies(item_id), site.automatic_reply(item_id) or ""]
        assert any(EDIT in body for body in sent), sent
    go_to_case = banner.get_by_role("link", name=f"Go to case {work.case}")
    if go_to_case.count():
        go_to_case.click()
    else:
        clerk.goto(site.url(f"/cases/{work.case}"))
    expect(clerk.get_by_role("heading", level=1)).to_have_text(f"Case {work.case}")
    expected = (before[0] + (work.document is not None), before[1] + bool(work.history))
    assert expected == case_changes(clerk, work)


# -- downloads -------------------------------------------------------------------------------------


def test_an_original_downloads_byte_for_byte_as_an_attachment(site: Site, clerk: Page) -> None:
    item_id = site.items["spare"]
    filename, original = site.originals["spare"]
    clerk.goto(site.url(f"/queue/{item_id}"))

    with clerk.expect_download() as attachment:
        clerk.get_by_role("link", name=re.compile(f"the original of .*{re.escape(filename)}")).click()
    with clerk.expect_download() as whole_email:
        clerk.get_by_role("link", name="Download the whole email (.eml)").click()

    downloaded = attachment.value
    assert filename == downloaded.suggested_filename
    assert original == downloaded.path().read_bytes()
    assert site.raws["spare"] == whole_email.value.path().read_bytes()


def test_an_original_with_a_hostile_name_downloads_under_a_safe_one(site: Site, clerk: Page) -> None:
    _, original = site.originals["hostile"]
    clerk.goto(site.url(f"/queue/{site.items['hostile']}"))

    with clerk.expect_download() as attachment:
        clerk.get_by_role("link", name=re.compile("the original of .*notes.docx")).click()

    name = attachment.value.suggested_filename
    assert original == attachment.value.path().read_bytes()
    assert name.endswith(".docx") and not name.startswith(("=", "+", "-", "@")), name
    assert set() == set(name) & set('<>"/\\:'), name


# -- signing out -----------------------------------------------------------------------------------


def test_after_signing_out_the_old_session_cookie_is_refused(site: Site, browser: Browser) -> None:
    page = site.page(browser)
    site.sign_in(page, "viewer")
    page.goto(site.url("/cases"))
    cookies = page.context.cookies()
    assert any(c["name"].startswith("__Host-") and c["httpOnly"] and c["secure"] for c in cookies), cookies

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")
    replay = page.context.browser.new_context()  # type: ignore[union-attr]
    replay.add_cookies(cookies)  # type: ignore[arg-type]
    again = replay.new_page()
    again.goto(site.url("/cases"))

    expect(again).to_have_url(re.compile(r"/sign-in"))
    expect(again.get_by_role("heading", level=1)).to_have_text("Sign in")
    replay.close()
    page.context.close()


# -- CSRF and search ------------------------------------------------------------------------------------------


def test_a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(site: Site, clerk: Page) -> None:
    item_id = site.items["spare"]
    clerk.goto(site.url(f"/queue/{item_id}"))
    perform = f"/queue/{item_id}/actions/link_to_case/perform"

    statuses = clerk.evaluate(
        """async ([url, reference]) => {
            const post = (body) => fetch(url, {method: "POST", body: new URLSearchParams(body)}).then(r => r.status);
            return [
                await post({case_reference: reference, send_reply: "no"}),
                await post({case_reference: reference, send_reply: "no", csrf_token: "forged-token-value"}),
            ];
        }""",
        [perform, CASE_REFERENCE],
    )
    form = clerk.locator("form#action-link_to_case")
    form.locator("input[name=csrf_token]").evaluate("e => e.remove()")
    form.get_by_label(re.compile("^Case reference")).fill(CASE_REFERENCE)
    form.get_by_role("button", name=re.compile("^Check the reply")).click()

    assert [403, 403] == statuses
    expect(clerk.get_by_role("heading", level=1)).to_have_text("Sorry, that form could not be sent")
    assert "open" == site.item_status(item_id)


def test_a_search_finds_an_item_by_words_of_its_long_subject(site: Site, clerk: Page) -> None:
    clerk.goto(site.url("/queue"))
    assert LONG_SUBJECT in main_text(clerk)
    clerk.get_by_label("Search", exact=True).fill(ACROSS_THE_FOLD)  # the email folds its subject between them
    clerk.get_by_role("button", name="Search", exact=True).click()

    expect(clerk.get_by_role("link", name=f"Item {site.items['long_subject']}", exact=True)).to_be_visible()


# -- accessibility ---------------------------------------------------------------------------------


def preview_of_spare(site: Site, page: Page) -> None:
    page.goto(site.url(f"/queue/{site.items['spare']}"))
    form = page.locator("form#action-link_to_case")
    form.get_by_label(re.compile("^Case reference")).fill(CASE_REFERENCE)
    form.get_by_role("button", name=re.compile("^Check the reply")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check the reply")


PAGES = {
    "sign-in": (None, "/sign-in"),
    "queue": ("business_unit", "/queue"),
    "item": ("business_unit", "item"),
    "preview": ("business_unit", "preview"),
    "cases": ("viewer", "/cases"),
    "case": ("viewer", f"/cases/{CASE_REFERENCE}"),
    "audit": ("admin", "/audit"),
    "users": ("admin", "/admin/users"),
}


@pytest.mark.parametrize("page_type", list(PAGES))
def test_axe_finds_no_serious_or_critical_accessibility_violation(site: Site, browser: Browser, page_type: str) -> None:
    role, path = PAGES[page_type]
    page = site.page(browser, role, bypass_csp=True)
    if path == "item":
        page.goto(site.url(f"/queue/{site.items['spare']}"))
    elif path == "preview":
        preview_of_spare(site, page)
    else:
        page.goto(site.url(path))
    page.wait_for_load_state("load")

    violations = run_axe(page)

    for v in violations:
        if v["impact"] not in ("serious", "critical"):
            print(f"{page_type}: {v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes)")  # type: ignore[arg-type]
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]}  # type: ignore[attr-defined]
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert [] == serious, json.dumps(serious, indent=1)
    page.context.close()
