"""English: day before month, 24-hour clock (the product's formats before issue 22).

Django's own names first, then the product's extra shapes (helpdesk.formats.APP_FORMATS):
each is exactly the literal pattern the templates used before it had a name.
"""
DATE_FORMAT = "j M Y"                              # 7 Dec 2026
DATETIME_FORMAT = "j M Y, H:i"                     # 7 Dec 2026, 14:00
SHORT_DATE_FORMAT = "j M"                          # 7 Dec
SHORT_DATETIME_FORMAT = "j M, H:i"                 # 7 Dec, 14:00
MONTH_DAY_FORMAT = "j M"                           # 7 Dec
YEAR_MONTH_FORMAT = "F Y"                          # December 2026
TIME_FORMAT = "H:i"                                # 14:00
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
FIRST_DAY_OF_WEEK = 1

WEEKDAY_DATE_FORMAT = "D j M Y"                    # Mon 7 Dec 2026
WEEKDAY_SHORT_DATE_FORMAT = "D j M"                # Mon 7 Dec
WEEKDAY_DATETIME_FORMAT = "D j M Y H:i"            # Mon 7 Dec 2026 14:00
WEEKDAY_SHORT_DATETIME_FORMAT = "D j M H:i"        # Mon 7 Dec 14:00
COMPACT_DATETIME_FORMAT = "j M Y H:i"              # 7 Dec 2026 14:00
ZONED_DATETIME_FORMAT = "Y-m-d H:i T"              # 2026-12-07 14:00 CET
LONG_DATETIME_FORMAT = "l d F Y, H:i"              # Monday 07 December 2026, 14:00
PERCENT_FORMAT = "%s %%"                           # 12.5 %
