"""Payload tables of the hostile-input suite (tests/security/test_hostile_input.py)."""
from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

# Text people really type or paste: stored and shown back exactly, on every database.
ROUND_TRIP: dict[str, str] = {
    "rtl_override": "invoice\u202egpj.exe is attached",
    "rtl_scripts": "مرحبا بالعالم — שלום עולם",
    "zero_width_joiner": "👩\u200d💻 and 👨\u200d👩\u200d👧\u200d👦 and 🏳\ufe0f\u200d🌈",
    "zero_width_space_and_bom": "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060wj",
    "combining_marks": "Z\u0351\u036b\u0343\u036aa\u0310\u0351l\u0357\u0346g\u0346o e\u0301\u0302",
    "four_byte_characters": "🚀🔥 𝕳𝖊𝖑𝖑𝖔 𠜎𠜱 🧑🏽‍🚒",
    "line_and_paragraph_separators": "first\u2028second\u2029third\x85fourth",
    "mixed_normalisation": "caf\u00e9 / cafe\u0301 / \u212b / \u00c5 / \ufb01le",
    "control_characters": "bell\x07 escape\x1b[31mred\x1b[0m delete\x7f",
    "noncharacters_and_private_use": "\ufdd0\ufffe\uffff \ue000 \U0010fffd",
    "long_single_word": "Donaudampfschiff" + "x" * 20_000 + "kapitän",
}

# Not text at all: a 400 that names the field (NUL cannot be stored by PostgreSQL; lone
# surrogates cannot be encoded as UTF-8 by anyone). Only JSON can carry the surrogates.
NOT_TEXT: dict[str, str] = {
    "nul": "before\x00after",
    "lone_high_surrogate": "before\ud800after",
    "lone_low_surrogate": "before\udfffafter",
    "reversed_surrogate_pair": "before\ude00\ud83dafter",
}

# Search boxes and query-string filters: never a 500, whatever is typed or pasted.
# Values are as they appear in the query string (percent-encoded).
SEARCH_QUERIES: dict[str, str] = {
    **{name: quote(text) for name, text in {
        "nul": "pass\x00word",
        "only_nul": "\x00",
        "rtl_override": "\u202egpj.exe",
        "emoji_zwj": "👩\u200d💻 login",
        "combining": "pa\u0301ssword",
        "superscript_digits": "²³",
        "hash_superscript": "#²",
        "like_wildcards": "100%_\\",
        "long_word": "x" * 5_000,
    }.items()},
    "surrogate_bytes": "%ED%A0%80reset",  # the UTF-8 form of U+D800, which is not UTF-8
    "invalid_utf8": "%FF%FEreset",
}

# Attachment names that are accepted, and the name they must be stored and offered under.
SAFE_NAMES: dict[str, tuple[str, str]] = {
    "path_traversal": ("../../etc/passwd.txt", "passwd.txt"),
    "absolute_path": ("/etc/cron.d/job.txt", "job.txt"),
    "windows_traversal": ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    "nul_truncation": ("shell.php\x00.txt", "shell.php.txt"),
    "rtl_override": ("evil\u202egnp.txt", "evilgnp.txt"),  # displayed as "eviltxt.png"
    "very_long": ("x" * 300 + ".txt", "x" * 196 + ".txt"),
    "long_with_hidden_extension": ("a" * 196 + ".exe" + "b" * 100 + ".txt", "a" * 196 + ".txt"),
    "only_emoji_stem": ("😀.png", "file.png"),
    "dot_dot_prefix": ("..txt", "file.txt"),
    "markup": ("<img src=x onerror=alert(1)>.txt", "img_srcx_onerroralert1.txt"),
    "unicode_letters": ("résumé 日本.pdf", "résumé_日本.pdf"),
}

# Attachment names that are refused (type not allowed), whatever they pretend to be.
REFUSED_NAMES: dict[str, str] = {
    "executable": "setup.exe",
    "double_extension": "invoice.pdf.exe",
    "rtl_disguised_exe": "invoice\u202efdp.exe",  # displayed as "invoiceexe.pdf"
    "no_extension": "README",
    "dotfile": ".htaccess",
    "trailing_dot": "notes.txt.",
}

# Broken JSON, each made from an endpoint's valid body (compact JSON text) so that the
# only thing wrong is the breakage: without it, the request would have succeeded.
Breakage = Callable[[str], bytes]


def _repeat_first_key(body: str) -> bytes:
    data = json.loads(body)
    key = next(iter(data))
    return (body[:-1] + f", {json.dumps(key)}: {json.dumps(data[key])}}}").encode()


def _nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


MALFORMED_JSON: dict[str, Breakage] = {
    "truncated": lambda s: s[:-4].encode(),
    "trailing_garbage": lambda s: (s + " and more").encode(),
    "single_quotes": lambda s: s.replace('"', "'").encode(),
    "trailing_comma": lambda s: (s[:-1] + ",}").encode(),
    "comment": lambda s: (s[:-1] + " /* note */}").encode(),
    "top_level_list": lambda s: f"[{s}]".encode(),
    "top_level_string": lambda s: json.dumps(s).encode(),
    "top_level_number": lambda s: b"5",
    "top_level_null": lambda s: b"null",
    "top_level_true": lambda s: b"true",
    "deeply_nested_list": lambda s: (s[:-1] + ', "x": ' + _nested(100_000, "[", "]") + "}"
                                     ).encode(),
    "deeply_nested_object": lambda s: (s[:-1] + ', "x": ' + _nested(50_000, '{"a":', "}", "1")
                                       + "}").encode(),
    "nan": lambda s: (s[:-1] + ', "x": NaN}').encode(),
    "minus_infinity": lambda s: (s[:-1] + ', "x": -Infinity}').encode(),
    "duplicate_key": _repeat_first_key,
    "invalid_utf8": lambda s: s.encode().replace(b'":', b'\xff":', 1),
    "utf8_bom": lambda s: b"\xef\xbb\xbf" + s.encode(),
    "whitespace_only": lambda s: b" \n\t ",
}

# Content types the API does not read JSON from.
WRONG_CONTENT_TYPES: dict[str, str] = {
    "text_plain": "text/plain",
    "xml": "application/xml",
    "json_patch": "application/json-patch+json",
    "missing": "",
    "multipart_without_boundary": "multipart/form-data",
}
