"""A linked ticket's outage on the portal's ticket page in a real browser (Debian chromium via
Playwright), signed in from the real mail, with axe-core, on desktop and phone."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.outages.support import declare, post_update, tag_customer
from tests.web.portal.conftest import JANE, Site
from tests.web.portal.test_browser import ask, browser, no_serious_violations

__all__ = ["browser"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def test_the_customer_reads_the_outage_on_the_portal(
    site: Site, browser: Browser, artifacts: Path
) -> None:
    await tag_customer(site.ports.sessions, "acme", "42", "olt:berlin-7")
    ticket = await site.ticket("No internet since this morning")
    declared = await declare(site.ports.sessions)
    await post_update(site.ports.sessions, declared.ticket_number, "Splicing has started.")
    for name, size in VIEWPORTS.items():
        context = await browser.new_context(locale="en-GB", viewport=size)  # type: ignore[arg-type]
        page = await context.new_page()
        mails = len(site.sign_in_mails(JANE))
        await ask(page, site, JANE)
        await page.goto(await site.next_link(JANE, mails + 1))
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name=ticket.ticket_number).click()
        outage = page.get_by_role("region", name="Known outage: Fibre cut in Berlin-Mitte")
        await expect(outage).to_be_visible()
        await expect(outage.get_by_role("list", name="Outage updates")).to_contain_text(
            "Splicing has started."
        )
        await expect(outage).to_contain_text("Not known yet")
        await no_serious_violations(page)
        await page.screenshot(path=artifacts / f"portal-outage-{name}.png", full_page=True)
        await context.close()
