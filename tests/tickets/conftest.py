"""Fixtures shared by the custom field tests of several modules."""
from .test_custom_fields import billing, fields  # noqa: F401
