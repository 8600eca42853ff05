#!/usr/bin/env python3
"""README screenshots from the demo data, so they stay current.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--tickets 300]

Builds a throw-away SQLite database in a temporary directory (migrate, then `manage.py
demo`), serves it with `runserver` on a free local port, and photographs the agent
workspace, a ticket, the help center, a QA review, capacity and a war room in Debian's
Chromium (Playwright, never a downloaded browser) at 1366×768, as the demo accounts see
them. Nothing outside the temporary directory and --out is touched.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
MARK = "@@shot@@ "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True).stdout


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own local server
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def paths(env: dict[str, str]) -> list[str]:
    """The pages to photograph, with the objects picked as a person would meet them: the
    agent's longest conversation, the newest QA review, the newest incident."""
    code = (
        "from django.urls import reverse as r;"
        "from devdata.pages import longest_ticket;"
        "from qa.models import Review; from incidents.models import Incident;"
        "from helpdesk.models import User;"
        "a = User.objects.get(username='agent');"
        "t = longest_ticket(team__memberships__user=a) or longest_ticket();"
        "rv = Review.objects.order_by('-id').first();"
        "inc = Incident.objects.order_by('-id').first();"
        f"m = {MARK!r};"
        "print(m + r('agent:queue', args=['teams']));"
        "print(m + r('agent:ticket', args=[t]));"
        "print(m + r('knowledge:home'));"
        "print(m + (r('qa:review', args=[rv.pk]) if rv else r('qa:index')));"
        "print(m + r('workforce_capacity:dashboard'));"
        "print(m + (r('incidents:room', args=[inc.pk]) if inc else r('incidents:list')))"
    )
    return marked(manage(env, "shell", "-c", code))


def marked(output: str) -> list[str]:
    """The values a shell snippet printed after MARK (the demo's apps may print too)."""
    return [line.split(MARK, 1)[1] for line in output.splitlines() if MARK in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--tickets", type=int, default=300)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="helpdesk-shots-") as tmp:
        env = {**os.environ, "HELPDESK_VAR_DIR": tmp, "DEBUG": "1", "SECRET_KEY": "shots",
               "DATABASE_URL": f"sqlite:///{tmp}/shots.sqlite3"}
        env.pop("CELERY_BROKER_URL", None)
        print("migrating and loading the demo data…", flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "demo", "--tickets", str(args.tickets))
        pages = paths(env)
        who = ("agent", "qa", "manager")
        words = marked(manage(env, "shell", "-c", "from devdata.management.commands.demo "
                              f"import demo_password as p; [print({MARK!r} + p(u)) for u in "
                              f"{who!r}]"))
        passwords = dict(zip(who, words, strict=True))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(f"{base}/accounts/login/")
            shoot(base, out, pages, passwords)
        finally:
            server.terminate()
            server.wait(timeout=10)


def shoot(base: str, out: Path, pages: list[str], passwords: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    names = [("agent-workspace", "agent"), ("ticket-page", "agent"), ("help-center", None),
             ("qa-review", "qa"), ("capacity", "manager"), ("war-room", "agent")]
    shots = [(name, who, path) for (name, who), path in zip(names, pages, strict=True)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        contexts = {}
        for name, who, path in shots:
            if who not in contexts:
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                if who:
                    page = context.new_page()
                    page.goto(f"{base}/accounts/login/")
                    page.get_by_label("Username").fill(who)
                    page.get_by_label("Password").fill(passwords[who])
                    page.get_by_role("button", name="Log in").click()
                    page.wait_for_load_state("networkidle")
                    page.close()
                contexts[who] = context
            page = contexts[who].new_page()
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            target = out / f"{name}.png"
            page.screenshot(path=str(target))
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                  f"{target.stat().st_size // 1024} KB", flush=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
