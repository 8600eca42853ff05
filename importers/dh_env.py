"""A real django-helpdesk, installed apart, to build source databases for tests and benchmarks.

django-helpdesk's import name is `helpdesk`, like this project's: it lives in its own
virtual environment (cached per version and Python under ~/.cache, built once per
machine), runs with its own settings module and database, and with its working directory
outside this repository so that our `helpdesk` package never shadows it. Only its
management commands and scripts run there; the importer reads the database it leaves.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

VERSION = "2.6.1"

SETTINGS = '''\
"""Settings of a throw-away django-helpdesk (written by importers.dh_env)."""
import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = "throw-away"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites",
    "django.contrib.humanize", "rest_framework", "helpdesk",
]
SITE_ID = 1
HELPDESK_TEAMS_MODE_ENABLED = False
ROOT_URLCONF = "dh_urls"
MIDDLEWARE = []
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "APP_DIRS": True, "OPTIONS": {}}]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = os.environ["DH_MEDIA_ROOT"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
_db = os.environ["DH_DATABASE"]
if _db.startswith(("postgres://", "postgresql://")):
    _u = urlsplit(_db)
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": _u.path.lstrip("/"),
        "USER": unquote(_u.username or ""), "PASSWORD": unquote(_u.password or ""),
        "HOST": _u.hostname or "", "PORT": str(_u.port or ""),
    }}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}
'''


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "helpdesk-importers"


def ensure_venv(version: str = VERSION) -> Path:
    """The python of a virtual environment with django-helpdesk `version` (built once)."""
    root = cache_dir() / f"django-helpdesk-{version}-py{sys.version_info[0]}{sys.version_info[1]}"
    python = root / "bin" / "python"
    done = root / ".installed"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions never build it at once
        if not done.exists():
            venv.create(root, with_pip=True, clear=True)
            subprocess.run(  # noqa: S603 - our own venv's pip, fixed arguments
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 f"django-helpdesk=={version}", "psycopg[binary]>=3.2"],
                check=True, cwd=root)
            done.write_text(version)
    return python


@dataclass
class DjangoHelpdesk:
    """One django-helpdesk installation: a work folder, a database, a media root."""

    python: Path
    workdir: Path
    database: str
    media_root: Path

    @classmethod
    def create(cls, workdir: Path, *, database: str | None = None,
               version: str = VERSION) -> DjangoHelpdesk:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "dh_settings.py").write_text(SETTINGS)
        (workdir / "dh_urls.py").write_text("urlpatterns = []\n")
        media = workdir / "media"
        media.mkdir(exist_ok=True)
        return cls(ensure_venv(version), workdir, database or str(workdir / "helpdesk.sqlite3"),
                   media)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL")}
        env.update(DJANGO_SETTINGS_MODULE="dh_settings", PYTHONPATH=str(self.workdir),
                   DH_DATABASE=self.database, DH_MEDIA_ROOT=str(self.media_root))
        return env

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """Run its python with `args`, from its own folder (never this repository)."""
        result = subprocess.run(  # noqa: S603 - fixed interpreter, our own arguments
            [str(self.python), *args], cwd=self.workdir, env=self.env, capture_output=True,
            text=True, timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"django-helpdesk {' '.join(args)} failed:\n{result.stderr}")
        return result

    def migrate(self) -> None:
        self.run("-m", "django", "migrate", "--no-input", "-v", "0")

    def run_script(self, script: Path, *args: str) -> subprocess.CompletedProcess:
        """Run a script of ours inside django-helpdesk (copied next to its settings)."""
        target = self.workdir / script.name
        target.write_text(script.read_text())
        return self.run(str(target), *args)
