"""Date and number formats per language (settings.FORMAT_MODULE_PATH): templates use the
named formats (DATE_FORMAT, DATETIME_FORMAT, SHORT_DATETIME_FORMAT), so a German reader
reads "7. Dez. 2026, 14:30" where an English one reads "7 Dec 2026, 14:30"."""
