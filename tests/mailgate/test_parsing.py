"""The pure parts: quote/signature stripping, HTML to text, headers, loop rules."""
from __future__ import annotations

import pytest

from mailgate import loops, parsing, reports

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


# --- charsets, names, structure -----------------------------------------------------------

@pytest.mark.parametrize("data, declared, expected", [
    ("Grüße aus München".encode(), "iso-8859-1", "Grüße aus München"),  # UTF-8 mislabelled
    ("“quoted” – €5".encode("cp1252"), "iso-8859-1", "“quoted” – €5"),  # Latin-1 is 1252
    ("Проверьте настройки экспорта, пожалуйста.".encode("cp1251"), None,
     "Проверьте настройки экспорта, пожалуйста."),
    ("Ошибка при входе в систему".encode("koi8_r"), "x-unknown",
     "Ошибка при входе в систему"),
    ("ログインできません".encode("cp932"), "shift_jis", "ログインできません"),
    (b"plain ascii", "klingon-8", "plain ascii"),
    ("Café".encode() + b" \xff\xfe broken", None, "Café \ufffd\ufffd broken"),
])
def test_decode_bytes_never_shows_mojibake(data, declared, expected):
    assert parsing.decode_bytes(data, declared) == expected


def test_a_charset_named_elsewhere_in_the_message_decides_a_short_header():
    data = "Проблема".encode("cp1251")
    assert parsing.decode_bytes(data, None, hints=["windows-1251"]) == "Проблема"


@pytest.mark.parametrize("disposition, expected", [
    ("attachment; filename*=UTF-8''Vertrag%20M%C3%BCnchen.pdf", "Vertrag München.pdf"),
    ("attachment; filename*0*=iso-8859-1''sign%E9e; filename*1=\".pdf\"", "signée.pdf"),
    ('attachment; filename="=?UTF-8?B?w6lsw6hiZS5wZGY=?="', "élèbe.pdf"),
    ("attachment; filename=quarterly report.pdf", "quarterly report.pdf"),
    ('attachment; filename="C:\\\\Users\\\\ann\\\\log.txt"', "log.txt"),
    ('attachment; filename="../../etc/passwd.txt"', "passwd.txt"),
])
def test_file_names_in_every_form(disposition, expected):
    raw = msg("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n",
              f"--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf\n"
              f"Content-Disposition: {disposition}\n\n%PDF\n--b--")
    [attachment] = parsing.parse(raw).attachments
    assert attachment.filename == expected


def test_a_part_without_a_name_is_named_from_its_type_and_a_bare_name_gets_its_extension():
    raw = msg("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n",
              "--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf\n\n%PDF\n"
              "--b\nContent-Type: image/png; name=scan\n\nPNG\n--b--")
    assert [a.filename for a in parsing.parse(raw).attachments] == [
        "attachment-1.pdf", "scan.png"]


def test_format_flowed_is_joined_again():
    raw = msg("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8; format=flowed\n",
              "This line was wrapped \nby the sender.\n\n-- \nAnn")
    assert parsing.parse(raw).text.startswith("This line was wrapped by the sender.\n\n-- \n")


def test_content_hash_ignores_what_each_relay_adds_but_not_the_message():
    raw = msg()
    relayed = (b"Received: from relay.example\n\tby mx.example; Mon, 1 Dec 2026\n"
               b"DKIM-Signature: v=1; a=rsa-sha256;\n b=abc\n"
               + raw.replace(b"\n", b"\r\n"))
    assert parsing.content_hash(relayed) == parsing.content_hash(raw)
    assert parsing.content_hash(raw.replace(b"Hello", b"Hello!")) != parsing.content_hash(raw)
    assert parsing.content_hash(raw.replace(b"Subject: Hi", b"Subject: Ho")) != \
        parsing.content_hash(raw)


def test_old_outlook_unquoted_boundary_is_read_with_the_legacy_policy():
    raw = msg("MIME-Version: 1.0\nContent-Type: multipart/mixed;\n\tboundary=----=_NextPart_0\n",
              "------=_NextPart_0\nContent-Type: text/plain\n\nThe body.\n"
              "------=_NextPart_0\nContent-Type: text/csv; name=a.csv\n\nx,y\n"
              "------=_NextPart_0--")
    parsed = parsing.parse(raw)
    assert parsed.text == "The body."
    assert [(a.filename, a.payload) for a in parsed.attachments] == [("a.csv", b"x,y")]


def test_a_delivery_report_needs_no_from_address_but_a_person_does():
    report = msg("Return-Path: <>\n", sender="MAILER-DAEMON")
    assert parsing.parse(report).from_address == ""
    with pytest.raises(parsing.ParseError, match="no valid From"):
        parsing.parse(msg(sender="not-an-address"))


@pytest.mark.parametrize("status, text", [
    ("5.1.1", "5.1.1 user unknown"), ("5.2.2", "5.2.2 mailbox full"),
    ("4.4.7", "4.4.7 delivery time expired"), ("5.9.99", "5.9.99 permanent failure"),
    ("", "no status given"),
])
def test_statuses_are_described(status, text):
    assert reports.describe(status) == text


def test_status_from_a_reply_code_when_no_enhanced_status_is_given():
    assert reports.status_of("#5.1.1 no such user") == "5.1.1"
    assert reports.status_of("550 Requested action not taken") == "5.0.0"
    assert reports.status_of("451 try later") == "4.0.0"


def test_a_plain_stub_beside_a_long_html_part_loses_to_the_html():
    article = "<p>" + "The quarterly figures are attached below in full detail. " * 30 + "</p>"
    raw = msg("MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n",
              "--b\nContent-Type: text/plain\n\nView this message in a browser.\n"
              f"--b\nContent-Type: text/html\n\n{article}\n--b--")
    parsed = parsing.parse(raw)
    assert parsed.text.startswith("The quarterly figures are attached below")
    assert not parsed.has_plain  # shown from HTML: the original goes beside it
