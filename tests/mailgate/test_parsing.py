"""The pure parts: quote/signature stripping, HTML to text, headers, loop rules."""
from __future__ import annotations

import pytest

from mailgate import loops, parsing

OWN = {"support@helpdesk.test"}


def msg(headers: str = "", body: str = "Hello", sender: str = "a@example.com") -> bytes:
    return (f"From: {sender}\nTo: support@helpdesk.test\nSubject: Hi\n"
            f"Message-ID: <m1@example.com>\n{headers}\n{body}\n").encode()


@pytest.mark.parametrize("text, expected", [
    ("Yes.\n\nOn Mon, 2 Nov 2026, Bob <b@x.y> wrote:\n> old", "Yes."),
    ("Yes.\n\nOn Mon, 2 Nov 2026 at 10:00, Support\n<s@x.y> wrote:\n> old", "Yes."),
    ("Yes.\n-----Original Message-----\nFrom: x\nSent: y\n\nold", "Yes."),
    ("Yes.\n\nFrom: Support <s@x.y>\nSent: Monday\nTo: me\nSubject: old\n\nold", "Yes."),
    ("Yes.\n________________________________\nFrom: Support\nSent: Monday", "Yes."),
    ("Yes.\n\nSent from my iPhone\n\n> On 2 Nov, Bob wrote:", "Yes."),
    ("Yes.\n-- \nJane Doe\nACME", "Yes."),
    ("Le lun. 2 nov. 2026, Bob a écrit :\n> old", "Le lun. 2 nov. 2026, Bob a écrit :\n> old"),
    ("Oui.\nLe lun. 2 nov. 2026, Bob a écrit :\n> old", "Oui."),
    ("> quoted question\nMy answer below the quote.", "My answer below the quote."),
    ("From: the start, my account is locked.", "From: the start, my account is locked."),
])
def test_strip_quoted(text, expected):
    assert parsing.strip_quoted(text) == expected


def test_stripping_everything_keeps_the_whole_text():
    assert parsing.strip_quoted("> only a quote") == "> only a quote"


def test_html_to_text_drops_scripts_styles_and_keeps_structure():
    html = ("<style>p{color:red}</style><script>alert(1)</script><p>Hi&nbsp;there</p>"
            "<ul><li>one</li><li>two</li></ul><p onclick='x()'>A &amp; B<br>C</p>")
    assert parsing.html_to_text(html) == "Hi there\n\n- one\n- two\nA & B\nC"


def test_sanitised_html_part_has_no_active_content():
    raw = msg("MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n",
              '<p onmouseover="x()">Hi<script>alert(1)</script>'
              '<a href="javascript:evil()">link</a></p>')
    parsed = parsing.parse(raw)
    assert "script" not in parsed.html and "onmouseover" not in parsed.html
    assert "javascript:" not in parsed.html
    assert parsed.text == "Hi\nlink" or parsed.text == "Hilink"


def test_unknown_charset_falls_back_instead_of_failing():
    raw = msg("MIME-Version: 1.0\nContent-Type: text/plain; charset=x-unknown-klingon\n",
              "Plain ascii survives")
    assert parsing.parse(raw).text == "Plain ascii survives"


def test_missing_message_id_gets_a_stable_synthetic_one():
    raw = msg().replace(b"Message-ID: <m1@example.com>\n", b"")
    first, second = parsing.parse(raw), parsing.parse(raw)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@no-message-id.invalid")


def test_reference_ids_without_brackets_and_subject_prefixes():
    assert parsing.message_ids("<a@b> <c@d>") == ["a@b", "c@d"]
    assert parsing.message_ids("bare@id") == ["bare@id"]
    assert parsing.clean_subject("RE: Fwd: AW: Printer broken") == "Printer broken"
    assert parsing.is_forward("Fwd: x") and parsing.is_forward("WG: x")
    assert not parsing.is_forward("Re: x")


@pytest.mark.parametrize("raw", [b"", b"   \n", b"just some text without headers"])
def test_unusable_input_raises_parse_error(raw):
    with pytest.raises(parsing.ParseError):
        parsing.parse(raw)


@pytest.mark.parametrize("headers, sender, reason", [
    ("Auto-Submitted: auto-generated\n", "a@example.com", "Auto-Submitted: auto-generated"),
    ("Precedence: bulk\n", "a@example.com", "Precedence: bulk"),
    ("Precedence: junk\n", "a@example.com", "Precedence: junk"),
    ("X-Autoreply: yes\n", "a@example.com", "x-autoreply header"),
    ("List-Id: <dev.lists.example.com>\n", "a@example.com", "mailing list message"),
    ("Return-Path: <>\n", "a@example.com", "null Return-Path <> (bounce or auto-reply)"),
    ("X-Failed-Recipients: x@y.z\n", "a@example.com",
     "delivery status notification (bounce)"),
    ("", "postmaster@example.com", "sent by postmaster@example.com"),
    ("", "Support@Helpdesk.test", "sent from one of our own addresses"),
])
def test_loop_rules(headers, sender, reason):
    parsed = parsing.parse(msg(headers, sender=sender))
    assert loops.loop_reason(parsed, own_addresses=OWN) == reason


@pytest.mark.parametrize("headers", ["Auto-Submitted: no\n", "Precedence: normal\n", ""])
def test_ordinary_mail_is_not_a_loop(headers):
    parsed = parsing.parse(msg(headers))
    assert loops.loop_reason(parsed, own_addresses=OWN) == ""


def test_out_of_office_subject_without_headers_is_a_loop():
    raw = msg().replace(b"Subject: Hi", b"Subject: Out of Office: back Monday")
    reason = loops.loop_reason(parsing.parse(raw), own_addresses=OWN)
    assert reason == "automatic reply (subject)"
