"""Notice wording: shipped defaults, admin overrides per team, safe placeholders."""
import pytest

from helpdesk.models import NoticeTemplate, Team
from helpdesk.notice_templates import Block, UnknownNotice, default_keys, render_notice

pytestmark = pytest.mark.django_db


def test_default_wording_fills_placeholders_and_escapes_html():
    out = render_notice("example", {"ticket_id": "42", "subject": "VPN <down>",
                                    "name": "Ann & Bo", "body": "Line one"})
    assert out.subject == "[#42] VPN <down>"
    assert "Hello Ann & Bo," in out.text
    assert "Ann &amp; Bo" in out.html and "<down>" not in out.html


def test_blocks_keep_their_safe_html_and_unknown_placeholders_stay():
    out = render_notice("example", {"ticket_id": "1", "subject": "s", "name": "{{ x }}",
                                    "body": Block("*bold*", "<p><strong>bold</strong></p>")})
    assert "<strong>bold</strong>" in out.html
    assert "*bold*" in out.text
    assert "{{ x }}" in out.text  # a value is never re-expanded


def test_team_wording_wins_over_global_which_wins_over_default():
    billing = Team.objects.create(name="Billing X", slug="billing-x")
    values = {"ticket_id": "7", "subject": "Refund", "name": "Cy", "body": "b"}
    NoticeTemplate.objects.create(key="example", subject="Global {{ ticket_id }}",
                                  body_text="G")
    NoticeTemplate.objects.create(key="example", team=billing, subject="Billing {{ subject }}",
                                  body_text="B")
    assert render_notice("example", values).subject == "Global 7"
    assert render_notice("example", values, team_id=billing.pk).subject == "Billing Refund"
    NoticeTemplate.objects.filter(team=billing).update(is_active=False)
    assert render_notice("example", values, team_id=billing.pk).subject == "Global 7"


def test_unknown_key_is_an_error():
    assert "example" in default_keys()
    with pytest.raises(UnknownNotice):
        render_notice("no.such.notice", {})
