"""Production settings: refuse to start without a secret, pass Django's deploy checklist."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    base = {k: v for k, v in os.environ.items()
            if k not in {"DEBUG", "HELPDESK_TESTING", "DJANGO_SETTINGS_MODULE", "SECRET_KEY",
                         "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    base.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base,
                          capture_output=True, text=True, timeout=120)


def test_production_settings_pass_the_deploy_checklist(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY="x7!" * 20 + "production-secret-from-the-environment",
        ALLOWED_HOSTS="helpdesk.example.com", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        HELPDESK_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_manage("check", HELPDESK_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
