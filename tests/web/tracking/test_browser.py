"""The tracking pages in a real browser (Debian chromium via Playwright): form, mail link, reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.web.tracking.conftest import Site, require_chromium, tracking_link
from ticketing.auth.principal import Principal


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


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(java_script_enabled=False, locale="en-GB")
    return await context.new_page()


async def test_customer_fills_the_form_and_sees_the_ticket(
    site: Site, browser: Browser, artifacts: Path
) -> None:
    await site.open_ticket()
    page = await new_page(browser)
    await page.goto(f"{site.url}/track?tenant=acme")
    await page.screenshot(path=artifacts / "tracking-form.png", full_page=True)
    # Keyboard only: skip link, then the ticket number field shows a focus ring.
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    focused = page.locator("#number")
    await expect(focused).to_be_focused()
    outline = await focused.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"

    await page.get_by_label("Ticket number").fill("TKT-000001")
    await page.get_by_label("Email address").fill("someone@example.com")
    await page.get_by_role("button", name="Show my ticket").click()
    await expect(page.get_by_role("alert")).to_contain_text("could not find a ticket")

    await page.get_by_label("Ticket number").fill("TKT-000001")
    await page.get_by_label("Email address").fill("jane@example.com")
    await page.get_by_role("button", name="Show my ticket").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("No internet since")
    await expect(page.locator('[data-field="status"]')).to_have_text("Open")
    await page.screenshot(path=artifacts / "tracking-ticket.png", full_page=True)


async def test_customer_follows_the_mail_link_and_replies(
    site: Site, browser: Browser, artifacts: Path
) -> None:
    ticket = await site.open_ticket()
    agent = site.flows(Principal.tenant_agent("acme", name="alice.agent@acme.test"))
    await agent.reply(ticket.ticket_id, body="Please restart the router and tell us.")
    await agent.reply(ticket.ticket_id, body="INTERNAL: line card 7 flaky", is_internal=True)
    # The created notice went to the test SMTP server with the ticket's tracking link.
    [created] = [m for m in site.mail.received if "We received" in str(m.message["Subject"])]
    assert created.recipients == ["Jane@Example.com"]
    html_part = created.message.get_body(("html",))
    assert html_part is not None
    link = tracking_link(html_part.get_content())
    assert link.startswith(f"{site.url}/track/")

    page = await new_page(browser)
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_contain_text(ticket.ticket_number)
    await expect(page.locator("main")).to_contain_text("Please restart the router")
    await expect(page.locator("main")).not_to_contain_text("INTERNAL")
    await expect(page.locator("body")).not_to_contain_text("alice")
    await expect(page.locator("header")).to_contain_text("Acme Fiber")

    await page.get_by_label("Your message").fill("Restarted it, still no sync.")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_role("status")).to_contain_text("Your reply was added")
    await expect(page.locator(".timeline")).to_contain_text("Restarted it, still no sync.")
    await expect(page.locator(".timeline")).not_to_contain_text("line card")
    await page.screenshot(path=artifacts / "tracking-replied.png", full_page=True)
