"""The desk in a real browser (Debian chromium via Playwright), with axe-core on every page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.web.desk.conftest import ALICE, PASSWORD, Desk
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


async def new_context(browser: Browser, desk: Desk, **options: object) -> BrowserContext:
    context = await browser.new_context(locale="en-GB", **options)  # type: ignore[arg-type]
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=desk.url)
    return context


async def no_serious_violations(page: Page) -> None:
    results = await AXE.run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad


async def signed_in(page: Page, desk: Desk, email: str = ALICE) -> None:
    await page.goto(f"{desk.url}/desk")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Tickets", level=1)).to_be_visible()


async def test_an_agent_works_the_queue_and_a_ticket(
    desk: Desk, browser: Browser, artifacts: Path
) -> None:
    first = await desk.ticket("No internet since the storm", priority="high")
    solved = await desk.ticket("Router replaced")
    await desk.flows(Principal.tenant_agent("acme", ALICE)).change_status(
        solved.ticket_id, "resolved"
    )
    context = await new_context(browser, desk)
    page = await context.new_page()
    await page.goto(f"{desk.url}/desk/login")
    await no_serious_violations(page)
    # Keyboard: skip link, the desk's home link, then Email, with a visible focus ring.
    for _ in range(3):
        await page.keyboard.press("Tab")
    await expect(page.get_by_label("Email")).to_be_focused()
    outline = await page.get_by_label("Email").evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"
    await signed_in(page, desk)
    await no_serious_violations(page)
    table = page.get_by_role("table", name="Tickets")
    await expect(table.get_by_role("link", name=first.ticket_number)).to_be_visible()
    await expect(table.get_by_role("link", name=solved.ticket_number)).to_have_count(0)

    await page.get_by_label("Status").select_option("resolved")
    await page.get_by_role("button", name="Filter").click()
    await expect(table.get_by_role("link", name=solved.ticket_number)).to_be_visible()
    await expect(table.get_by_role("link", name=first.ticket_number)).to_have_count(0)
    await page.get_by_label("Status").select_option("")
    await page.get_by_label("Search").fill("storm")
    await page.get_by_role("button", name="Filter").click()
    await expect(table.get_by_role("row")).to_have_count(2)  # header and one ticket
    await table.get_by_role("link", name=first.ticket_number).click()

    await expect(page.get_by_role("heading", level=1)).to_contain_text("No internet since")
    await no_serious_violations(page)
    timeline = page.get_by_role("list", name="Timeline")
    await expect(timeline.get_by_role("listitem").first).to_contain_text("The DSL light blinks")
    await page.get_by_label("Message").fill("Please restart the router.")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status").first).to_contain_text("Your reply was sent")
    await page.get_by_label("Message").fill("Line card 7 is flaky.")
    await page.get_by_label("Internal note").check()
    await page.get_by_role("button", name="Send").click()
    note = timeline.get_by_role("listitem").filter(has_text="Line card 7")
    await expect(note).to_contain_text("Internal")
    reply = timeline.get_by_role("listitem").filter(has_text="Please restart")
    await expect(reply).not_to_contain_text("Internal")

    await page.get_by_label("Message").fill("The two logs you asked for.")
    await page.get_by_label("Attachments").set_input_files(
        [
            {"name": "router log.txt", "mimeType": "text/plain", "buffer": b"sync lost"},
            {"name": "speeds.csv", "mimeType": "text/csv", "buffer": b"day,mbit\n1,3\n"},
        ]
    )
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status").first).to_contain_text("Your reply was sent")
    files = page.get_by_role("list", name="Files", exact=True)
    await expect(files.get_by_role("link")).to_have_text(["router log.txt", "speeds.csv"])
    with_files = timeline.get_by_role("listitem").filter(has_text="The two logs")
    await expect(with_files.get_by_role("link", name="speeds.csv")).to_be_visible()
    await no_serious_violations(page)
    async with page.expect_download() as downloading:
        await files.get_by_role("link", name="speeds.csv").click()
    download = await downloading.value
    assert download.suggested_filename == "speeds.csv"
    assert Path(await download.path()).read_bytes() == b"day,mbit\n1,3\n"

    await page.get_by_label("Status").select_option("in_progress")
    await page.get_by_label("Priority").select_option("urgent")
    await page.get_by_label("Type").select_option("speed_issue")
    await page.get_by_label("Assignee").select_option(ALICE)
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator('[data-field="status"]')).to_have_text("In progress")
    await expect(page.locator('[data-field="priority"]')).to_have_text("Urgent")
    await expect(page.locator('[data-field="type"]')).to_have_text("Speed issue")
    await expect(page.locator('[data-field="assignee"]')).to_have_text(ALICE)

    await page.get_by_role("button", name="Copy share text").click()
    await expect(page.locator("#copy-status")).to_have_text("Share text copied")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied == await page.get_by_label("Share text").input_value()
    assert copied.startswith(f"Ticket {first.ticket_number}: No internet since the storm")

    await page.get_by_role("link", name="New ticket").click()
    await no_serious_violations(page)
    await page.get_by_label("Customer email").fill("jane@example.com")
    await page.get_by_label("Title").fill("Static IP wanted")
    await page.get_by_label("Description").fill("For a home server.")
    await page.get_by_label("Priority").select_option("low")
    await page.get_by_label("Type").select_option("service_upgrade")
    await page.get_by_role("button", name="Create ticket").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Static IP wanted")
    await expect(page.locator("dl.facts")).to_contain_text("web")

    await page.goto(f"{desk.url}/desk/tickets/TKT-999999")
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await no_serious_violations(page)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto(f"{desk.url}/desk")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await context.close()


async def test_a_ticket_made_through_the_api_appears_without_a_reload(
    desk: Desk, browser: Browser
) -> None:
    context = await new_context(browser, desk)
    page = await context.new_page()
    await signed_in(page, desk)
    await page.evaluate("window.notReloaded = true")
    table = page.get_by_role("table", name="Tickets")
    await expect(table.get_by_role("row")).to_have_count(2)  # header and "no tickets"
    async with httpx.AsyncClient(base_url=desk.url) as api:
        created = await api.post(
            "/api/v1/tickets",
            headers={"Authorization": f"Bearer {desk.api_key}", "Idempotency-Key": "live-1"},
            json={"title": "Made through the API", "customer_id": 42},
        )
    number = created.json()["ticket_number"]
    await expect(table.get_by_role("link", name=number)).to_be_visible()
    await expect(page.locator('[data-count="open"]')).to_have_text("1")
    assert await page.evaluate("window.notReloaded") is True
    await context.close()


async def test_screenshots_of_the_queue_and_a_ticket(
    desk: Desk, browser: Browser, artifacts: Path
) -> None:
    agent = desk.flows(Principal.tenant_agent("acme", ALICE))
    titles = [
        ("Modem reboots every night", "normal", "equipment_issue"),
        ("Invoice shows the old tariff", "low", "billing_issue"),
        ("Speed drops to 5 Mbit/s in the evening", "high", "speed_issue"),
        ("Move my line to a new flat", "normal", "general_inquiry"),
        ("Fibre cut on Main Street: no internet", "urgent", "connectivity_issue"),
    ]
    made = [await desk.ticket(t, priority=p, ticket_type=k) for t, p, k in titles]
    await agent.assign(made[2].ticket_id, assigned_to=ALICE)
    await agent.change_status(made[2].ticket_id, "in_progress")
    await agent.change_status(made[1].ticket_id, "pending")
    focus = made[4]
    await agent.reply(focus.ticket_id, body="A crew is on the way; we expect a fix by 16:00.")
    await agent.reply(focus.ticket_id, body="Splice at cabinet B12, 48 lines.", is_internal=True)
    await agent.assign(focus.ticket_id, assigned_to=ALICE)
    for name, size in (("desktop", (1280, 900)), ("phone", (390, 844))):
        context = await new_context(browser, desk, viewport={"width": size[0], "height": size[1]})
        page = await context.new_page()
        await signed_in(page, desk)
        await no_serious_violations(page)
        await page.screenshot(path=artifacts / f"desk-queue-{name}.png", full_page=name == "phone")
        await page.goto(f"{desk.url}/desk/tickets/{focus.ticket_number}")
        await expect(page.get_by_role("button", name="Copy share text")).to_be_visible()
        await no_serious_violations(page)
        await page.screenshot(path=artifacts / f"desk-ticket-{name}.png", full_page=True)
        await context.close()
