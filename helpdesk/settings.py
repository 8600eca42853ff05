"""Settings, read from the environment with safe production defaults.

Production needs at least SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL; DEBUG is off
unless DEBUG=1. With nothing set the project runs on SQLite and a file-system
Celery broker, so one command starts a working system on a fresh machine.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HELPDESK_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("HELPDESK_TESTING", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING or env_bool("HELPDESK_SCHEMA_ONLY"):
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "helpdesk.apps.HelpdeskConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tickets.apps.TicketsConfig",
    "webhooks.apps.WebhooksConfig",
    "sla.apps.SlaConfig",
    "knowledge.apps.KnowledgeConfig",
    "qa.apps.QaConfig",
    "workforce.apps.WorkforceConfig",
    "incidents.apps.IncidentsConfig",
    "mailgate.apps.MailgateConfig",
    "casework.apps.CaseworkConfig",
    "reporting.apps.ReportingConfig",
    "importers.apps.ImportersConfig",
    "devdata.apps.DevdataConfig",
    # Staff sign-in and customer privacy (issue 24; see the "Security" settings below).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mozilla_django_oidc",
    "privacy.apps.PrivacyConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "helpdesk.security.StaffSessionMiddleware",
    "helpdesk.audit.AuditActorMiddleware",
    "helpdesk.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "helpdesk.middleware.ContentSecurityPolicyMiddleware",
    "helpdesk.middleware.UserTimezoneMiddleware",
    "helpdesk.middleware.DatabaseUnavailableMiddleware",
    "helpdesk.throttle.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "wiring.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        # Every product page (README, "One way to render a page"). First, so that its
        # account pages win over the admin app's registration/ templates; the Django
        # engine below keeps the admin and e-mail.
        "NAME": "jinja2",
        "BACKEND": "wiring.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "wiring.jinja2.environment",
            "context_processors": [
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "helpdesk.context_processors.roles",
            ],
        },
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.context_processors.roles",
            ],
        },
    },
]

# Form widgets render through Jinja2: the same markup, several times faster than the
# Django engine for pages with many fields.
FORM_RENDERER = "helpdesk.form_renderer.FastFormRenderer"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the Celery worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool(
        "DATABASE_JIT"):
    # PostgreSQL's JIT compiles any query the planner costs high: at a million tickets
    # every dashboard aggregate, spending seconds compiling a query that runs in one
    # (measured by `manage.py bench_pages`, issue 20). DATABASE_JIT=1 turns it back on.
    DATABASES["default"].setdefault("OPTIONS", {})
    options = DATABASES["default"]["OPTIONS"].get("options", "")
    DATABASES["default"]["OPTIONS"]["options"] = f"{options} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "helpdesk.User"
AUTHENTICATION_BACKENDS = ["helpdesk.auth.CachedPermissionsBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# The languages the product ships (issue 22); LocaleMiddleware picks one per request
# from the session / cookie / Accept-Language, and the catalogues live in locale/.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers in the reader's language: helpdesk/formats/<lang>/formats.py.
FORMAT_MODULE_PATH = ["helpdesk.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: attachments go through a permission check
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: attachments are limited in size and type (see tickets.attachments).
HELPDESK_MAX_ATTACHMENT_BYTES = int(os.environ.get("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE = 5
HELPDESK_ALLOWED_ATTACHMENT_EXTENSIONS = env_list(
    "ALLOWED_ATTACHMENT_EXTENSIONS",
    "png,jpg,jpeg,gif,webp,pdf,txt,log,csv,json,xml,yaml,yml,zip,gz,har,eml,docx,xlsx,pptx",
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Resolved tickets close by themselves after this many days without activity.
HELPDESK_AUTO_CLOSE_DAYS = int(os.environ.get("AUTO_CLOSE_DAYS", "4"))
# The incremental export's change log keeps this many days: a sync job that stops for
# longer restarts with a full sync (README, "Incremental export").
HELPDESK_TICKET_CHANGES_RETENTION_DAYS = int(
    os.environ.get("TICKET_CHANGES_RETENTION_DAYS", "30"))

# Email
# Customer e-mails (mailgate/notices.py): reminders after these business days of waiting
# on the customer, automatic resolution after AUTO_RESOLVE (0: never), and at most this
# many automatic e-mails per address and hour (loop safety).
HELPDESK_CUSTOMER_NOTICES = env_bool("CUSTOMER_NOTICES", True)
HELPDESK_CUSTOMER_REMINDER_DAYS = [
    int(d) for d in env_list("CUSTOMER_REMINDER_DAYS", "2,4") if d.strip()]
HELPDESK_CUSTOMER_AUTO_RESOLVE_DAYS = int(os.environ.get("CUSTOMER_AUTO_RESOLVE_DAYS", "7"))
HELPDESK_CUSTOMER_MAIL_HOURLY_CAP = int(os.environ.get("CUSTOMER_MAIL_HOURLY_CAP", "20"))
HELPDESK_MAIL_SENDER_NAME = os.environ.get("MAIL_SENDER_NAME", "Support")
HELPDESK_BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# How often an open page asks for the bell's unread count (one indexed COUNT).
NOTIFICATION_POLL_SECONDS = int(os.environ.get("NOTIFICATION_POLL_SECONDS", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "support@helpdesk.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)

# Cache: Redis when configured, local memory otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "helpdesk.cache.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis in production; a file-system broker needing no server by default.
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A worker that dies with tasks in hand: they come back after 10 minutes (not the
    # default hour), looked for every 10 s. Every task is idempotent, so early is harmless.
    # The look runs under a Redis lock, held a minute (not kombu's five) by a worker that
    # dies while holding it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 600, "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1, "unacked_mutex_expire": 60,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Survives a kombu race when Redis dies mid-poll (see the class).
CELERY_WORKER_CONSUMER = "helpdesk.celery:BrokerLossConsumer"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Webhooks (issue 23): days of finished deliveries kept in the admin's delivery log.
WEBHOOK_LOG_DAYS = int(os.environ.get("WEBHOOK_LOG_DAYS", "30"))
# Every periodic job of every app, in this one place (task names, no imports).
CELERY_BEAT_SCHEDULE = {
    "close-resolved-tickets": {
        "task": "tickets.tasks.close_stale_resolved_tickets",
        "schedule": 15 * 60.0,
    },
    # Ticket-event reactions (mail, notices...) whose task was lost: queued again from
    # the outbox (tickets.events); each row is handled once.
    "tickets-requeue-pending-events": {
        "task": "tickets.tasks.requeue_pending_events",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # The incremental export's change log: older than the retention, in batches.
    "prune-ticket-changes": {
        "task": "tickets.tasks.prune_ticket_changes",
        "schedule": 60 * 60.0,
        "options": {"expires": 30 * 60},
    },
    # Automations (issue 23): each scans its indexed time column from where it stopped,
    # so a run with nothing due costs one small query per automation.
    "tickets-run-automations": {
        "task": "tickets.tasks.run_automations",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    # SLA warnings and breaches: cheap when nothing is due (one indexed query).
    # A run queued while workers were down is dropped after a minute: the next one
    # catches up on every missed level anyway.
    "sla-scan-due-clocks": {
        "task": "sla.tasks.scan_due_clocks",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # SLA dashboard rollup: recently touched days every five minutes, all nightly.
    "sla-sync-rollup": {
        "task": "sla.tasks.sync_sla_rollup",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    "sla-rebuild-rollup": {
        "task": "sla.tasks.rebuild_sla_rollup",
        "schedule": crontab(hour=3, minute=47),
    },
    # On-call escalation of unacknowledged pages; each step pages once (dedupe keys).
    "workforce-escalate-unacknowledged-pages": {
        "task": "workforce.tasks.escalate_unacknowledged_pages",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Webhook retries (exponential backoff) and any delivery whose message was lost.
    "webhooks-retry-due-deliveries": {
        "task": "webhooks.tasks.retry_due_deliveries",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # The webhook delivery log keeps WEBHOOK_LOG_DAYS of finished deliveries.
    "webhooks-prune-delivery-log": {
        "task": "webhooks.tasks.prune_delivery_log",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 60 * 60},
    },
    # Satisfaction surveys whose delay has passed: sent (or skipped) once each.
    "surveys-send-due": {
        "task": "tickets.tasks.send_due_surveys",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Manager dashboard rollup: recently touched hours every five minutes, all nightly.
    "metrics-sync-rollup": {
        "task": "reporting.tasks.sync_metrics_rollup",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    "metrics-rebuild-rollup": {
        "task": "reporting.tasks.rebuild_metrics_rollup",
        "schedule": crontab(hour=3, minute=17),
    },
    # Casework dashboard rollup: likewise (a playbook change asks the sync for a rebuild).
    "casework-sync-rollup": {
        "task": "casework.tasks.sync_casework_rollup",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    "casework-rebuild-rollup": {
        "task": "casework.tasks.rebuild_casework_rollup",
        "schedule": crontab(hour=3, minute=41),
    },
    # Capacity page rollups (arrivals, handle time): likewise.
    "workforce-sync-capacity-rollup": {
        "task": "workforce.tasks.sync_capacity_rollup",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    "workforce-rebuild-capacity-rollup": {
        "task": "workforce.tasks.rebuild_capacity_rollup",
        "schedule": crontab(hour=3, minute=53),
    },
    # Notification e-mails whose queueing failed (broker down at commit): queued again.
    "notifications-requeue-unsent-email": {
        "task": "helpdesk.tasks.requeue_unsent_notification_emails",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    # Digest e-mails of people who asked for one every N minutes; sends each notice once.
    "notifications-send-digests": {
        "task": "helpdesk.tasks.send_notification_digests",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # One reminder per low-score follow-up left unhandled past its due time.
    "surveys-remind-overdue-follow-ups": {
        "task": "tickets.tasks.remind_overdue_survey_follow_ups",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Monday morning: owners hear which of their articles are past their review date.
    "knowledge-review-reminders": {
        "task": "knowledge.tasks.send_review_reminders",
        "schedule": 7 * 24 * 3600.0,
        "options": {"expires": 3600},
    },
    # Nightly: the spelling vocabulary forgets words no published article uses any more.
    "knowledge-search-vocabulary": {
        "task": "knowledge.tasks.rebuild_search_vocabulary",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600},
    },
    # Monday 02:00: last week's QA sample (idempotent per week and scorecard).
    "qa-weekly-sample": {
        "task": "qa.tasks.sample_week",
        "schedule": crontab(minute=0, hour=2, day_of_week="mon"),
    },
    # Breached tickets are marked while their SLA level still shows it.
    "qa-sweep-sla-breaches": {
        "task": "qa.tasks.sweep_sla_breaches",
        "schedule": 10 * 60.0,
        "options": {"expires": 9 * 60},
    },
    # Escalation steps, public-update reminders and review reminders due now; each fires
    # once (unique Fire rows), resolved incidents have no due time and cost nothing.
    "incidents-run-due": {
        "task": "incidents.tasks.run_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Fetch new mail of every active IMAP mailbox; a run queued while workers were down
    # is dropped after a minute (the next one continues from the stored last UID).
    "mailgate-poll-mailboxes": {
        "task": "mailgate.tasks.poll_mailboxes",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Replies whose send task was lost (broker down when queued, Redis restarted empty
    # under a pending retry): queued again; a send happens once whatever the copies.
    "mailgate-requeue-stalled-outbound": {
        "task": "mailgate.tasks.requeue_stalled_outbound",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    # Reminders to customers a ticket waits on, then the automatic resolution: scans the
    # indexed next-due column; each step is recorded, so a rerun sends nothing twice.
    "mailgate-scan-waiting-tickets": {
        "task": "mailgate.tasks.scan_waiting_tickets",
        "schedule": 10 * 60.0,
        "options": {"expires": 9 * 60},
    },
    # Monday 06:00 UTC: the voice-of-customer report of the week that just ended.
    "casework-weekly-voc-report": {
        "task": "casework.tasks.generate_weekly_voc_report",
        "schedule": crontab(minute=0, hour=6, day_of_week=1),
    },
}

# REST API
REST_FRAMEWORK = {
    # Token first: a request without (or with invalid) credentials gets 401 with
    # `WWW-Authenticate: Token`, as documented. Sessions are for the browser: a session
    # request that fails the CSRF check is refused with 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # DRF's JSON parser, refusing (400) JSON too deeply nested to parse and repeated keys.
    "DEFAULT_PARSER_CLASSES": [
        "helpdesk.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's, keyed by helpdesk.throttle.client_ip (TRUSTED_PROXY_COUNT) like the web's.
    "DEFAULT_THROTTLE_CLASSES": [
        "helpdesk.throttle.AnonRateThrottle",
        "helpdesk.throttle.UserRateThrottle",
    ],
    "EXCEPTION_HANDLER": "tickets.api.service_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_ANON_RATE", "30/minute"),
        "user": os.environ.get("API_USER_RATE", "1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": (
        "Tickets, messages, organizations and users. Authenticate with a token "
        "(`Authorization: Token <key>`, from POST /api/v1/auth/token/): a request without "
        "credentials, or with an invalid token, gets 401 and `WWW-Authenticate: Token`. "
        "The browser's session cookie is accepted too; a session write (POST, PATCH, PUT) "
        "without its CSRF token gets 403. HEAD and OPTIONS never change anything."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "helpdesk.openapi.add_error_responses",
        "helpdesk.openapi.add_links",
    ],
    # Several models have a "status" with its own choices: name each enum after its owner.
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.STATUS_CHOICES",
        "IncidentStatusEnum": "incidents.models.Status",
    },
}

# Public forms (login, sign-up) are throttled per client address.
HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = int(os.environ.get("LOGIN_ATTEMPTS_PER_MINUTE", "10"))
HELPDESK_SIGNUPS_PER_HOUR = int(os.environ.get("SIGNUPS_PER_HOUR", "20"))
# Number of reverse proxies in front of the app whose X-Forwarded-For can be trusted.
HELPDESK_TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# Security: strict by default, relaxed only for local DEBUG.
SESSION_COOKIE_HTTPONLY = True
# Sessions are read on every request: from the cache, written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Staff sign-in (issue 24; README "Security"). Two-factor: members of these roles must pass
# a TOTP code (or a recovery code) before anything else; superusers count as "admin".
HELPDESK_2FA_REQUIRED_ROLES = env_list("TWO_FACTOR_REQUIRED_ROLES", "admin,manager")
# Staff API tokens (POST /api/v1/auth/token/) need a second factor: an `otp` code in the body.
HELPDESK_STAFF_TOKEN_NEEDS_2FA = env_bool("STAFF_TOKEN_NEEDS_2FA", True)
# A staff session unused this long is signed out (0: never).
HELPDESK_STAFF_IDLE_MINUTES = int(os.environ.get("STAFF_IDLE_MINUTES", "30"))
# Sensitive actions need the password or a code entered within this many minutes (0: off).
HELPDESK_REAUTH_MINUTES = int(os.environ.get("REAUTH_MINUTES", "15"))
HELPDESK_SENSITIVE_URL_NAMES = (
    "admin:helpdesk_user_change", "admin:helpdesk_user_add", "admin:helpdesk_user_delete",
    "admin:auth_user_password_change", "admin:auth_group_change",
    "admin:auth_group_add", "admin:authtoken_tokenproxy_add",
    "privacy:request_export", "privacy:request_erasure", "privacy:approve_erasure",
)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Helpdesk")

# Single sign-on for staff through OpenID Connect (mozilla-django-oidc), on when a client
# id is set. Users are matched by verified e-mail; roles come from the OIDC_ROLES_CLAIM.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
_oidc_issuer = os.environ.get("OIDC_ISSUER", "").rstrip("/")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get(
    "OIDC_OP_AUTHORIZATION_ENDPOINT", f"{_oidc_issuer}/authorize/")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", f"{_oidc_issuer}/token/")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", f"{_oidc_issuer}/userinfo/")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT",
                                       f"{_oidc_issuer}/.well-known/jwks.json")
OIDC_ROLES_CLAIM = os.environ.get("OIDC_ROLES_CLAIM", "helpdesk_roles")
# The provider's names for roles, when they differ: {"support-leads": "team lead"}.
OIDC_ROLE_MAP = json.loads(os.environ.get("OIDC_ROLE_MAP", "{}"))
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", False)
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
if OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "helpdesk.oidc.StaffOIDCBackend"]

# Customer privacy (privacy app): exports stay downloadable this many hours, once.
PRIVACY_EXPORT_TTL_HOURS = int(os.environ.get("PRIVACY_EXPORT_TTL_HOURS", "48"))
# Global retention in days (0: keep); an organization's own policy wins.
PRIVACY_RETAIN_RAW_EMAIL_DAYS = int(os.environ.get("RETAIN_RAW_EMAIL_DAYS", "0"))
PRIVACY_RETAIN_ATTACHMENT_DAYS = int(os.environ.get("RETAIN_ATTACHMENT_DAYS", "0"))
PRIVACY_RETAIN_CLOSED_TICKET_DAYS = int(os.environ.get("RETAIN_CLOSED_TICKET_DAYS", "0"))
PRIVACY_RETENTION_BATCH = int(os.environ.get("RETENTION_BATCH", "500"))
CELERY_BEAT_SCHEDULE.update({
    # Retention in batches: a backlog drains over a few runs, a quiet day costs 3 queries.
    "privacy-apply-retention": {
        "task": "privacy.tasks.apply_retention",
        "schedule": 15 * 60.0,
        "options": {"expires": 14 * 60},
    },
    # Exports nobody downloaded in time are deleted.
    "privacy-expire-exports": {
        "task": "privacy.tasks.expire_exports",
        "schedule": 60 * 60.0,
        "options": {"expires": 55 * 60},
    },
})

# Covering indexes (INCLUDE) serve PostgreSQL; SQLite, the embedded default, builds the
# same indexes on their key columns only, which is all it needs at its sizes.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
