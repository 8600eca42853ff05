"""Settings for the test suite: the real settings with testing switched on."""
import os
import tempfile

os.environ.setdefault("HELPDESK_TESTING", "1")
os.environ.setdefault("HELPDESK_VAR_DIR", tempfile.mkdtemp(prefix="helpdesk-test-"))

from .settings import *  # noqa: E402,F403

# Sign-in throttling and API throttles are tested explicitly; keep them out of the way.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "1000/minute", "user": "100000/minute"}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns otherwise
