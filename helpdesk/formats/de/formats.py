"""German: "7. Dezember 2026, 14:00", "Mo., 7. Dez., 14:00"; decimal comma, thousands
with a dot, "12,5 %".

`N` is the month's abbreviation with its dot where German writes one ("Dez.", "Mai",
"Juni"); `D.` the weekday's ("Mo."). The names match helpdesk/formats/en/formats.py.
"""
DATE_FORMAT = "j. F Y"                             # 7. Dezember 2026
DATETIME_FORMAT = "j. F Y, H:i"                    # 7. Dezember 2026, 14:00
SHORT_DATE_FORMAT = "j. N"                         # 7. Dez.
SHORT_DATETIME_FORMAT = "j. N, H:i"                # 7. Dez., 14:00
MONTH_DAY_FORMAT = "j. F"                          # 7. Dezember
YEAR_MONTH_FORMAT = "F Y"                          # Dezember 2026
TIME_FORMAT = "H:i"                                # 14:00
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
FIRST_DAY_OF_WEEK = 1

WEEKDAY_DATE_FORMAT = "D., j. N Y"                 # Mo., 7. Dez. 2026
WEEKDAY_SHORT_DATE_FORMAT = "D., j. N"             # Mo., 7. Dez.
WEEKDAY_DATETIME_FORMAT = "D., j. N Y, H:i"        # Mo., 7. Dez. 2026, 14:00
WEEKDAY_SHORT_DATETIME_FORMAT = "D., j. N, H:i"    # Mo., 7. Dez., 14:00
COMPACT_DATETIME_FORMAT = "j. N Y, H:i"            # 7. Dez. 2026, 14:00
ZONED_DATETIME_FORMAT = "j. N Y, H:i T"            # 7. Dez. 2026, 14:00 CET
LONG_DATETIME_FORMAT = "l, j. F Y, H:i"            # Montag, 7. Dezember 2026, 14:00
PERCENT_FORMAT = "%s\u00a0%%"                      # 12,5 % (DIN 5008: a space before %)
