"""The cheaper rendering of the workforce pages writes the markup the slower one wrote:
the long select of the on-call override form (`helpdesk.web.LongSelect`) and the
capacity heat map's cell text."""
from __future__ import annotations

from django import forms

from helpdesk.roles import Role
from helpdesk.web import LongSelect
from workforce import selectors
from workforce.capacity import Interval
from workforce.views_capacity import _cell_text

from ..factories import make_user


class Both(forms.Form):
    fast = forms.ModelChoiceField(queryset=None, widget=LongSelect, required=False)
    slow = forms.ModelChoiceField(queryset=None, required=False)
    grouped_fast = forms.ChoiceField(widget=LongSelect, choices=[
        ("A & B", [("1", "<one>"), ("2", "it's two")]), ("3", 'say "three"')])
    grouped_slow = forms.ChoiceField(choices=[
        ("A & B", [("1", "<one>"), ("2", "it's two")]), ("3", 'say "three"')])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("fast", "slow"):
            self.fields[name].queryset = selectors.staff()
            self.fields[name].widget.attrs.update({"id": "same", "data-x": "a\"b", "required": True,
                                                   "disabled": False})


def test_long_select_writes_the_markup_of_django_select(db):
    chosen = make_user(Role.AGENT, username="o'brien", first_name='Ann "A" & co')
    make_user(Role.MANAGER, username="zed")
    for data in (None, {"fast": chosen.pk, "slow": chosen.pk, "grouped_fast": "2",
                        "grouped_slow": "2"}):
        form = Both(data)
        fast, slow = str(form["fast"]), str(form["slow"])
        assert fast.replace('name="fast"', 'name="slow"') == slow
        assert "Ann &#34;A&#34; &amp; co" in fast and 'data-x="a&#34;b" required' in fast
        grouped = str(form["grouped_fast"]).replace("grouped_fast", "grouped_slow")
        assert grouped == str(form["grouped_slow"])
    assert "selected" in str(Both({"fast": chosen.pk})["fast"])


def test_heat_map_cells_round_half_up_as_floatformat_did():
    def cell(scheduled, required):
        return Interval(starts_at=None, queued_arrivals=0, deferred_arrivals=0,
                        required=required, scheduled=scheduled, coverage=None, gap="ok")
    assert _cell_text(cell(0.0, 0.0)) == "0/0"
    assert _cell_text(cell(2.5, 0.4)) == "3/1"
    assert _cell_text(cell(1.4999, 2.0)) == "1/2"
    assert _cell_text(cell(0.375, 1.0000000001)) == "0/1"
