"""Templates keep the layers too: a template includes or extends only templates of its
own app, of the apps below it, or of the kernel (base.html, includes/, registration/...)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
NAMED = re.compile(r"""{%-?\s*(?:include|extends|import|from)\s+["']([^"']+)["']""")


def _layers() -> dict[str, int]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = config["contracts"][0]["layers"]
    return {app.strip(): len(layers) - i for i, layer in enumerate(layers)
            for app in layer.split("|")}


def _app(name: str, layers: dict[str, int]) -> str:
    first = name.split("/", 1)[0]
    return first if first in layers else "helpdesk"  # base.html, includes/, admin/...


def upward_includes(root: Path = TEMPLATES) -> list[str]:
    layers = _layers()
    found = []
    for path in sorted(root.rglob("*.html")):
        name = str(path.relative_to(root))
        if name.startswith("jinja2/"):
            name = name.removeprefix("jinja2/")
        app = _app(name, layers)
        for target in NAMED.findall(path.read_text()):
            other = _app(target, layers)
            if other != app and layers[other] >= layers[app]:
                found.append(f"{name} -> {target}")
    return found


def test_no_template_includes_upward_or_sideways():
    assert upward_includes() == []


def test_an_upward_or_sideways_include_is_found(tmp_path):
    pages = {
        "tickets/_probe.html": '{% include "sla/panel.html" %}',  # upward
        "qa/_probe.html": '{% include "workforce/_row.html" %}',  # sideways
        "sla/_probe.html": '{% include "includes/pager.html" %}{% include "tickets/x.html" %}',
        "jinja2/tickets/_rows.html": "{% include 'reporting/_cell.html' %}",  # upward
    }
    for name, text in pages.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert sorted(upward_includes(tmp_path)) == [
        "qa/_probe.html -> workforce/_row.html",
        "tickets/_probe.html -> sla/panel.html",
        "tickets/_rows.html -> reporting/_cell.html",
    ]
