"""Settings for the test suite: the real settings with testing switched on."""
import os
import tempfile

os.environ.setdefault("HELPDESK_TESTING", "1")
os.environ.setdefault("HELPDESK_VAR_DIR", tempfile.mkdtemp(prefix="helpdesk-test-"))

from .settings import *  # noqa: E402,F403

# Sign-in throttling and API throttles are tested explicitly; keep them out of the way.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "1000/minute", "user": "100000/minute"}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns otherwise

# Old tests sign staff in with force_login: enforcement is off here and switched on by the
# tests of issue 24 (tests/helpdesk/test_two_factor.py and friends).
HELPDESK_2FA_REQUIRED_ROLES = []
HELPDESK_STAFF_TOKEN_NEEDS_2FA = False
HELPDESK_STAFF_IDLE_MINUTES = 0
HELPDESK_REAUTH_MINUTES = 0
