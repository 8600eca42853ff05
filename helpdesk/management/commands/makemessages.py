"""Django's makemessages, plus the strings of the Jinja2 templates (templates/jinja2/).

Django's own extractor reads Django template syntax only; a Jinja2 `{% trans %}` block or
an `ngettext()` call would be missed or misread. So the Jinja2 templates are left out of
its file list and their strings are extracted by Jinja2 itself (the i18n extension's
parser) and added to the catalogue template before msgmerge writes locale/<lang>/*.po.
"""
from __future__ import annotations

import os
from pathlib import Path

import jinja2
from django.conf import settings
from django.core.management.commands import makemessages

JINJA2_DIR = Path(settings.BASE_DIR) / "templates" / "jinja2"
GETTEXT_FUNCTIONS = ("_", "gettext", "ngettext", "pgettext", "npgettext")


def _quote(text: str) -> str:
    return '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                  .replace("\t", "\\t")) + '"'


def jinja2_messages(root: Path = JINJA2_DIR) -> dict[tuple[str, str | None], list[str]]:
    """(msgid, msgid_plural) -> the places it occurs, for every template under root."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])  # noqa: S701 - parse only
    env.policies["ext.i18n.trimmed"] = True  # as wiring.jinja2 renders them
    found: dict[tuple[str, str | None], list[str]] = {}
    for path in sorted(root.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(settings.BASE_DIR).as_posix()
        for line, function, message in env.extract_translations(source, GETTEXT_FUNCTIONS):
            strings = message if isinstance(message, tuple) else (message,)
            strings = tuple(s for s in strings if isinstance(s, str))
            if not strings:
                continue
            plural = strings[1] if function in ("ngettext", "npgettext") and len(strings) > 1 \
                else None
            found.setdefault((strings[0], plural), []).append(f"{where}:{line}")
    return found


def jinja2_pot_entries(root: Path = JINJA2_DIR) -> str:
    out = []
    for (msgid, plural), places in jinja2_messages(root).items():
        entry = [f"#: {' '.join(places)}"]
        if "%(" in msgid or "%s" in msgid:
            entry.append("#, python-format")
        entry.append(f"msgid {_quote(msgid)}")
        if plural is None:
            entry.append('msgstr ""')
        else:
            entry += [f"msgid_plural {_quote(plural)}", 'msgstr[0] ""', 'msgstr[1] ""']
        out.append("\n".join(entry))
    return "\n\n".join(out) + "\n"


class Command(makemessages.Command):
    help = makemessages.Command.help + " Jinja2 templates are read by Jinja2's own parser."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--into", default="",
            help="Write the catalogues into this locale directory instead of LOCALE_PATHS "
                 "(the completeness test compares a fresh run with the repository's).")

    def find_files(self, root: str) -> list:
        jinja_root = str(JINJA2_DIR)
        files = [f for f in super().find_files(root)
                 if not os.path.abspath(f.path).startswith(jinja_root)]
        if self.into:
            self.locale_paths = [self.into]
            self.default_locale_path = self.into
            for f in files:
                f.locale_dir = self.into
        return files

    def process_files(self, file_list: list) -> None:
        super().process_files(file_list)
        if self.domain != "django":
            return
        potfile = os.path.join(self.default_locale_path, f"{self.domain}.pot")
        header = "" if os.path.exists(potfile) else (
            'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n')
        with open(potfile, "a", encoding="utf-8") as fp:
            fp.write(header + "\n" + jinja2_pot_entries())

    def handle(self, *args, **options) -> None:
        # Tests, collected static copies and the seeding/benchmark tools hold no strings a
        # user reads.
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), "tests/*",
                                      "staticfiles/*", "var/*", "loadtest/*", "devdata/*"]
        self.into = os.path.abspath(options["into"]) if options.get("into") else ""
        super().handle(*args, **options)
