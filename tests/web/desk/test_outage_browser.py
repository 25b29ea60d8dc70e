"""Outages at the desk in a real browser (Debian chromium via Playwright), with axe-core: the
queue's marker and "Outage" filter, a linked ticket's link to its outage, the outage's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.outages.support import declare, post_update, tag_customer
from tests.web.desk.conftest import Desk
from tests.web.desk.test_browser import browser, new_context, no_serious_violations, signed_in

__all__ = ["browser"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def shots(page: Page, artifacts: Path, name: str) -> None:
    """The page at both sizes, checked by axe at each."""
    for size_name, size in VIEWPORTS.items():
        await page.set_viewport_size(size)
        await no_serious_violations(page)
        await page.screenshot(path=artifacts / f"{name}-{size_name}.png", full_page=True)
    await page.set_viewport_size(VIEWPORTS["desktop"])


async def test_an_agent_follows_a_ticket_to_its_outage(
    desk: Desk, browser: Browser, artifacts: Path
) -> None:
    sessions = desk.ports.sessions
    await tag_customer(sessions, "acme", "42", "olt:berlin-7")
    linked = await desk.ticket("No internet since this morning")
    declared = await declare(sessions, eta=datetime.now(UTC) + timedelta(hours=3))
    await post_update(sessions, declared.ticket_number, "Splicing has started.")
    await tag_customer(sessions, "acme", "42")
    plain = await desk.ticket("Invoice twice this month")

    context = await new_context(browser, desk)
    page = await context.new_page()
    await signed_in(page, desk)
    table = page.get_by_role("table", name="Tickets")
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=linked.ticket_number))
    await expect(row).to_contain_text(f"Outage {declared.ticket_number}")
    await shots(page, artifacts, "desk-queue-outage")

    await page.get_by_label("Outage").select_option(label="Linked to an outage")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_label("Outage")).to_have_value("linked")
    await expect(table.get_by_role("link", name=linked.ticket_number, exact=True)).to_be_visible()
    await expect(table.get_by_role("link", name=plain.ticket_number, exact=True)).to_have_count(0)
    await page.get_by_label("Outage").select_option(label="Not linked")
    await page.get_by_role("button", name="Filter").click()
    await expect(table.get_by_role("link", name=plain.ticket_number, exact=True)).to_be_visible()
    await expect(table.get_by_role("link", name=linked.ticket_number, exact=True)).to_have_count(0)

    await page.goto(f"{desk.url}/desk/tickets/{linked.ticket_number}")
    box = page.get_by_role("region", name=f"Outage {declared.ticket_number}")
    await expect(box).to_contain_text("Splicing has started.")
    await expect(box).to_contain_text("Latest update")
    await shots(page, artifacts, "desk-ticket-linked")
    await box.get_by_role("link", name=f"Outage {declared.ticket_number}").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Fibre cut in Berlin-Mitte")
    outage = page.get_by_role("region", name="Outage", exact=True)
    await expect(outage.locator('[data-field="outage-status"]')).to_have_text("Active")
    await expect(outage.locator('[data-field="outage-linked"]')).to_have_text("1")
    await expect(outage.locator('[data-field="outage-tags"]')).to_contain_text("olt:berlin-7")
    await expect(outage.get_by_role("list", name="Outage updates")).to_contain_text(
        "Splicing has started."
    )
    await expect(outage.get_by_role("link", name=linked.ticket_number)).to_be_visible()
    await shots(page, artifacts, "desk-outage")
    await context.close()
