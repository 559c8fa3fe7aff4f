"""A real browser (headless Chromium driven by Playwright) fills the form and reads the reply."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.helpers import unique_email

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM) and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (CI installs it)",
    ),
]


async def test_a_customer_submits_the_form_and_sees_the_reply(stack: object) -> None:
    from playwright.async_api import async_playwright

    base = stack.base_url  # type: ignore[attr-defined]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            await page.goto(f"{base}/")
            await page.get_by_label("Name").fill("Chloé Martin")
            await page.get_by_label("Email").fill(unique_email("browser"))
            await page.get_by_label("Subject").fill("Slack notifications")
            await page.get_by_label("Category").select_option("technical")
            await page.get_by_label("Message").fill("How do I connect Slack so my team gets task notifications?")
            await page.get_by_role("button", name="Send").click()

            status = page.locator("#ticket-status")
            await status.wait_for()
            # The status page refreshes itself (a meta refresh, no JavaScript) until the reply is there.
            agent_reply = page.locator("#messages li[data-role=agent]")
            await agent_reply.wait_for(timeout=20_000)
            assert "/support/ticket/" in page.url
            assert "Slack" in await agent_reply.inner_text()
            assert await page.locator("#ticket-status").get_attribute("data-status") == "answered"
        finally:
            await browser.close()
