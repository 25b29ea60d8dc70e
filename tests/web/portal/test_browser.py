"""The portal in a real browser (Debian chromium via Playwright), signed in from the real mail
the test SMTP server caught, with axe-core on every page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.web.portal.conftest import JANE, Site
from tests.web.tracking.conftest import require_chromium
from ticketing.auth.principal import Principal

AXE = Axe()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"], headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def no_serious_violations(page: Page) -> None:
    results = await AXE.run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad


async def ask(page: Page, site: Site, email: str) -> str:
    await page.goto(f"{site.url}/portal?tenant=acme")
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Send me a link").click()
    status = page.get_by_role("status")
    await expect(status).to_contain_text("a sign-in link is on its way")
    return await status.inner_text()


async def test_a_customer_signs_in_from_the_mail_opens_a_ticket_and_replies(
    site: Site, browser: Browser, artifacts: Path
) -> None:
    old = await site.ticket("No internet since the storm")
    agent = site.flows(Principal.tenant_agent("acme", "alice@acme.test"))
    await agent.reply(old.ticket_id, body="A technician is on the way.")
    await agent.reply(old.ticket_id, body="Line card 7 is flaky.", is_internal=True)
    sams = await site.ticket("Sam's router", customer="43")
    for size, name in (
        ({"width": 1280, "height": 900}, "desktop"),
        ({"width": 390, "height": 844}, "phone"),
    ):
        context = await browser.new_context(locale="en-GB", viewport=size)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(f"{site.url}/portal?tenant=acme")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await no_serious_violations(page)
        known = await ask(page, site, JANE)
        unknown = await ask(page, site, "nobody@example.com")
        assert known.replace(JANE, "X") == unknown.replace("nobody@example.com", "X")
        mails = len(site.sign_in_mails(JANE))
        link = await site.next_link(JANE, mails)

        await page.goto(link)
        await no_serious_violations(page)
        await page.get_by_role("button", name="Sign in").click()
        table = page.get_by_role("table", name="My tickets")
        await expect(table.get_by_role("link", name=old.ticket_number)).to_be_visible()
        await expect(table.get_by_role("link", name=sams.ticket_number)).to_have_count(0)
        await no_serious_violations(page)
        await page.screenshot(path=str(artifacts / f"portal-{name}.png"), full_page=True)

        await page.get_by_role("link", name="New ticket").click()
        await no_serious_violations(page)
        await page.get_by_label("Title").fill(f"Slow evenings ({name})")
        await page.get_by_label("Description").fill("Speed drops after 8 pm.")
        await page.screenshot(path=str(artifacts / f"portal-new-{name}.png"), full_page=True)
        # Two files, stored with the new ticket and listed on its page.
        await page.get_by_label("Attachments").set_input_files(
            [
                {"name": "speedtest.png", "mimeType": "image/png", "buffer": b"\x89PNG fake"},
                {"name": "router log.txt", "mimeType": "text/plain", "buffer": b"sync lost"},
            ]
        )
        await page.get_by_role("button", name="Submit").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Slow evenings")
        files = page.get_by_role("list", name="Attachments")
        await expect(files.get_by_role("link")).to_have_count(2)
        await expect(files).to_contain_text("router log.txt")
        href = await files.get_by_role("link", name="router log.txt").get_attribute("href")
        assert href is not None
        download = await page.request.get(site.url + href)
        assert download.ok and await download.body() == b"sync lost"
        assert "router%20log.txt" in download.headers["content-disposition"]
        assert download.headers["x-content-type-options"] == "nosniff"
        await no_serious_violations(page)

        await page.get_by_role("link", name="My tickets").click()
        await table.get_by_role("link", name=old.ticket_number).click()
        timeline = page.get_by_role("list", name="Timeline")
        await expect(timeline).to_contain_text("A technician is on the way.")
        await expect(timeline).not_to_contain_text("Line card 7")
        await page.get_by_label("Your message").fill("Thanks, I will be home.")
        await page.get_by_role("button", name="Send reply").click()
        await expect(page.get_by_role("status")).to_contain_text("Your reply was added")
        await expect(timeline).to_contain_text("Thanks, I will be home.")
        await no_serious_violations(page)
        await page.screenshot(path=str(artifacts / f"portal-ticket-{name}.png"), full_page=True)

        await page.goto(f"{site.url}/portal/tickets/{sams.ticket_number}")
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        await page.goto(link)
        await expect(page.get_by_role("heading", name="Link not valid")).to_be_visible()
        await expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
        # The used link signed nobody out either.
        await page.goto(f"{site.url}/portal?tenant=acme")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await context.close()
