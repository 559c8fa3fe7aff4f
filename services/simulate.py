"""`fte simulate`: traffic as customers and providers would send it, to a running stack."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time

import httpx

from shared.settings import Settings

SAMPLE_QUESTIONS = (
    "How do I reset my password?",
    "How can I connect Slack to my workspace?",
    "Where can I download my invoices?",
    "How do I invite a teammate?",
    "Can I export my boards to CSV?",
    "I want to talk to a human please",
)


async def simulate_web(client: httpx.AsyncClient, *, sender: str, name: str, subject: str, text: str) -> str:
    response = await client.post(
        "/support/submit",
        json={"name": name, "email": sender, "subject": subject, "message": text, "category": "general"},
    )
    response.raise_for_status()
    return f"web ticket {response.json()['ticket_id']}"


async def simulate_one(
    client: httpx.AsyncClient, settings: Settings, *, channel: str, sender: str, name: str, subject: str, text: str
) -> str:
    if channel == "web":
        return await simulate_web(client, sender=sender, name=name, subject=subject, text=text)
    if channel == "whatsapp":
        from services.ingress_whatsapp.simulate import simulate_whatsapp

        return await simulate_whatsapp(client, settings, sender=sender, name=name, text=text)
    from services.ingress_gmail.simulate import simulate_email

    return await simulate_email(client, settings, sender=sender, name=name, subject=subject, text=text)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with httpx.AsyncClient(base_url=args.url.rstrip("/"), timeout=15) as client:
        if args.count <= 1 and args.text:
            sender = args.sender or _default_sender(args.channel, 0)
            try:
                line = await simulate_one(
                    client,
                    settings,
                    channel=args.channel,
                    sender=sender,
                    name=args.name,
                    subject=args.subject,
                    text=args.text,
                )
            except (ValueError, RuntimeError, httpx.HTTPError) as exc:  # a bad --from, a refused request
                print(f"{args.channel}: failed: {exc}")
                return 1
            print(line)
            return 0
        channels = ["web", "whatsapp", "email"] if args.channel == "mixed" else [args.channel]
        rng = random.Random(args.seed)
        started = time.monotonic()
        failures = 0
        for i, channel in zip(range(args.count), itertools.cycle(channels), strict=False):
            due = started + i / args.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            text = args.text or rng.choice(SAMPLE_QUESTIONS)
            try:
                line = await simulate_one(
                    client,
                    settings,
                    channel=channel,
                    sender=args.sender or _default_sender(channel, i),
                    name=args.name,
                    subject=args.subject,
                    text=text,
                )
                print(line)
            except Exception as exc:  # a demo tool: report and go on
                failures += 1
                print(f"{channel}: failed: {exc}")
        print(f"sent {args.count - failures}/{args.count} in {time.monotonic() - started:.1f} s")
        return 0 if failures == 0 else 1


def _default_sender(channel: str, i: int) -> str:
    if channel == "whatsapp":
        return f"+1555010{i % 10000:04d}"  # +1 555 010 xxxx: a possible number
    return f"customer{i % 100}@example.com"
