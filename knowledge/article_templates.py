"""Starting bodies of new articles, one per kind (Markdown). Pure data, no Django."""
from __future__ import annotations

TEMPLATES: dict[str, dict[str, str]] = {
    "howto": {
        "summary": "In short: <the one thing to do, in one sentence>.",
        "body": (
            "## Before you start\n\n- <prerequisite>\n\n"
            "## Steps\n\n1. <first action>\n2. <second action>\n3. <third action>\n\n"
            "> **Note:** <anything easy to miss>\n\n"
            "## If this does not work\n\n- <fallback>\n"
        ),
    },
    "troubleshooting": {
        "summary": "If you see <symptom>, <the most common fix>.",
        "body": (
            "## Problem\n\n<What the customer sees: message, screen, behaviour.>\n\n"
            "## Cause\n\n<Why it happens.>\n\n"
            "## Solution\n\n1. <step>\n2. <step>\n\n"
            "## Still not working?\n\n<What to collect before contacting support.>\n"
        ),
    },
    "faq": {
        "summary": "<The answer in one or two sentences.>",
        "body": "## Question\n\n<The question as customers ask it.>\n\n## Answer\n\n<Answer.>\n",
    },
    "release_note": {
        "summary": "<What changed, for whom, from when.>",
        "body": (
            "## What's new\n\n- <change>\n\n## What changes for you\n\n<Impact, actions.>\n\n"
            "## Known issues\n\n- <none yet>\n"
        ),
    },
    "blank": {"summary": "", "body": ""},
}


def starting_content(kind: str) -> tuple[str, str]:
    """(summary, body) a new article of this kind starts with."""
    tpl = TEMPLATES.get(kind) or TEMPLATES["blank"]
    return tpl["summary"], tpl["body"]
