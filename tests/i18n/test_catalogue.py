"""The German catalogue is complete: every string marked for translation (Python, Django
and Jinja2 templates, JavaScript) has a German translation, and the compiled catalogues
in the repository are those of the .po files."""
from __future__ import annotations

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from helpdesk.management.commands.makemessages import jinja2_messages

LOCALE = Path(settings.BASE_DIR) / "locale"
pytestmark = pytest.mark.skipif(shutil.which("msgfmt") is None,
                                reason="needs the gettext tools (Debian package gettext)")


def _statistics(po: Path) -> str:
    return subprocess.run(["msgfmt", "--statistics", "-o", "/dev/null", str(po)],
                          capture_output=True, text=True, check=True).stderr


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """makemessages run now, into a copy of locale/: what the code marks today, with the
    translations the repository has."""
    root = tmp_path_factory.mktemp("locale")
    shutil.copytree(LOCALE, root, dirs_exist_ok=True)
    for domain in ("django", "djangojs"):
        call_command("makemessages", locale=["de"], domain=domain, verbosity=0,
                     no_obsolete=True, into=str(root))
    return root / "de" / "LC_MESSAGES"


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_marked_string_has_a_german_translation(fresh, domain):
    stats = _statistics(fresh / f"{domain}.po")
    assert "untranslated" not in stats and "fuzzy" not in stats, (
        f"{domain}.po: {stats.strip()} — run makemessages -l de, translate, compilemessages")


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_committed_catalogue_is_the_compiled_po(fresh, tmp_path, domain):
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(fresh / f"{domain}.po")], check=True)
    with open(compiled, "rb") as now, open(LOCALE / "de" / "LC_MESSAGES" / f"{domain}.mo",
                                           "rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == \
            gettext.GNUTranslations(now)._catalog, f"compile {domain}.po again"


def test_jinja2_trans_blocks_and_plurals_are_extracted():
    found = jinja2_messages()
    assert ("How can we help?", None) in found
    assert ("%(num)s article for “%(query)s”", "%(num)s articles for “%(query)s”") in found
    # A {% trans %} block over several lines is one trimmed message, as it renders.
    assert any(m.startswith("Closed requests cannot receive replies. If you still need help, ")
               for m, _plural in found)
