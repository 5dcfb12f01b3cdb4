"""Settings read from environment variables (see DESIGN.md, "Environment")."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """Raised at start-up when the environment cannot run the app."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: str) -> dict:
    """Build the settings mapping from the environment; nothing here connects anywhere."""
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "MAIL_URL": os.environ.get("MAIL_URL", "outbox"),
        # Invitations and password reset links come from this address (default: no-reply@
        # BASE_URL's host, see derive_settings).
        "MAIL_SYSTEM_FROM": os.environ.get("MAIL_SYSTEM_FROM") or None,
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "DEBUG": _truthy(os.environ.get("FLASK_DEBUG")),
        # 1 MiB is far above any legitimate JSON body and keeps abuse cheap to reject.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 1024 * 1024)),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed
        # (the client's address is what rate limits and tracking see). 0: none, headers ignored.
        "PROXY_HOPS": int(os.environ.get("PROXY_HOPS", 0)),
        # Both cookies are also Secure when BASE_URL is https (derive_settings).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "API_PAGE_LIMIT_DEFAULT": 50,
        "API_PAGE_LIMIT_MAX": 200,
        **_delivery_settings(),
        **_rate_limit_settings(),
        **_tracking_settings(instance_path),
        **_dns_settings(),
        **_workflow_settings(),
        **_asset_settings(instance_path),
    }


def _database_url(instance_path: str) -> str:
    default_db = "sqlite:///" + str(Path(instance_path) / "crm.sqlite3")
    database_url = os.environ.get("DATABASE_URL") or default_db
    # Heroku-style URLs and the plain driver name both mean psycopg 3 here.
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return database_url


def _delivery_settings() -> dict:
    return {
        # Segments with time-relative conditions ("within the last 30 days") are recalculated this often.
        "SEGMENT_RECALC_SECONDS": os.environ.get("SEGMENT_RECALC_SECONDS"),
        # How often the counts kept as deltas (segments' reachable members, workflows'
        # enrollments per status) are folded into one row per key (PostgreSQL).
        "KEPT_COUNT_FOLD_SECONDS": os.environ.get("KEPT_COUNT_FOLD_SECONDS"),
        # Campaign delivery: the reconciler's period, how long a claimed batch is a worker's
        # before others may take it over, the first retry delay (doubling), one-click mailto.
        "RECONCILE_SECONDS": os.environ.get("RECONCILE_SECONDS"),
        "DELIVERY_LEASE_SECONDS": int(os.environ.get("DELIVERY_LEASE_SECONDS", 600)),
        "DELIVERY_RETRY_BASE_SECONDS": float(os.environ.get("DELIVERY_RETRY_BASE_SECONDS", 30)),
        "UNSUBSCRIBE_MAILTO": os.environ.get("UNSUBSCRIBE_MAILTO") or None,
    }


def _rate_limit_settings() -> dict:
    # Rate limits (webapp/ratelimit.py), counted in Redis; e.g. RATELIMIT_API="100 per second".
    return {
        "RATELIMIT_ENABLED": not _truthy(os.environ.get("RATELIMIT_DISABLED")),
        **{name: os.environ[name] for name in ("RATELIMIT_API", "RATELIMIT_LOGIN_ACCOUNT", "RATELIMIT_LOGIN_ADDRESS",
                                               "RATELIMIT_PUBLIC", "RATELIMIT_UNSUBSCRIBE", "RATELIMIT_RESET_ACCOUNT",
                                               "RATELIMIT_RESET_ADDRESS") if os.environ.get(name)},
    }


def _tracking_settings(instance_path: str) -> dict:
    return {
        # Tracking: how often queued hits are written, after how long a dead writer's
        # entries are taken over, and how soon after delivery a click counts as a scanner's.
        "TRACKING_WRITER_SECONDS": os.environ.get("TRACKING_WRITER_SECONDS"),
        "TRACKING_RECLAIM_IDLE_MS": int(os.environ.get("TRACKING_RECLAIM_IDLE_MS", 30_000)),
        "TRACKING_MACHINE_CLICK_SECONDS": float(os.environ.get("TRACKING_MACHINE_CLICK_SECONDS", 10)),
        # Tracking ids of the first format (the recipient's token in clear, still in mail sent
        # before ids were encrypted: webapp/mail/tracking.py) count and redirect; 0: refused like forged ones.
        "TRACKING_LEGACY_IDS": _truthy(os.environ.get("TRACKING_LEGACY_IDS", "1")),
        # Where web processes spool opens and clicks on their way to Redis (a local disk).
        "TRACKING_SPOOL_DIR": os.environ.get("TRACKING_SPOOL_DIR") or str(Path(instance_path) / "tracking-spool"),
    }


def _dns_settings() -> dict:
    return {
        # Sending domains are verified by a TXT record: the DNS server asked ("host" or
        # "host:port"; empty: the system's resolvers) and how long to wait for it, in seconds.
        "DNS_RESOLVER": os.environ.get("DNS_RESOLVER") or None,
        "DNS_TIMEOUT": float(os.environ.get("DNS_TIMEOUT", 3)),
        # The SPF include of the mail server MAIL_URL sends through (e.g. _spf.mailhost.net),
        # shown in Settings › Deliverability; unset: "v=spf1 a mx ~all" is suggested.
        "MAIL_SPF_INCLUDE": os.environ.get("MAIL_SPF_INCLUDE") or None,
    }


def _workflow_settings() -> dict:
    return {
        # Workflows: how often due enrollments are swept up, how long a claimed enrollment is a
        # worker's, the first retry delay of a failed step (doubling), the event_day sweep.
        "WORKFLOW_TICK_SECONDS": os.environ.get("WORKFLOW_TICK_SECONDS"),
        "WORKFLOW_LEASE_SECONDS": int(os.environ.get("WORKFLOW_LEASE_SECONDS", 300)),
        "WORKFLOW_RETRY_BASE_SECONDS": float(os.environ.get("WORKFLOW_RETRY_BASE_SECONDS", 60)),
        "WORKFLOW_EVENT_DAY_SECONDS": os.environ.get("WORKFLOW_EVENT_DAY_SECONDS"),
        # Batch ingest: up to this many stored activities a batch follows (segments, enrollments,
        # goals) in its request; a larger one leaves its customers seen once to a worker. The
        # sweep for follow-ups whose job Redis lost, or whose retry is due.
        "BATCH_FOLLOW_INLINE_MAX": int(os.environ.get("BATCH_FOLLOW_INLINE_MAX", 100)),
        "INGEST_FOLLOWUP_SWEEP_SECONDS": os.environ.get("INGEST_FOLLOWUP_SWEEP_SECONDS"),
        # Attendance: how often ended events are settled; how long after an event's end late
        # scans may still arrive; how long an event without an end is taken to last; how far
        # back the sweep looks (older events are never settled: history loaded late).
        "EVENT_SETTLE_SECONDS": os.environ.get("EVENT_SETTLE_SECONDS"),
        "EVENT_SETTLE_GRACE_MINUTES": int(os.environ.get("EVENT_SETTLE_GRACE_MINUTES", 120)),
        "EVENT_ASSUMED_LENGTH_MINUTES": int(os.environ.get("EVENT_ASSUMED_LENGTH_MINUTES", 240)),
        "EVENT_SETTLE_LOOKBACK_DAYS": int(os.environ.get("EVENT_SETTLE_LOOKBACK_DAYS", 14)),
        # The event_reminder sweep: reminders go out within this of their time.
        "EVENT_REMINDER_SECONDS": os.environ.get("EVENT_REMINDER_SECONDS"),
        # Host names and networks (10.0.0.0/8) webhooks may reach although they are private,
        # loopback or link-local; comma or space separated. Tenants cannot open these.
        "WEBHOOK_PRIVATE_HOSTS": os.environ.get("WEBHOOK_PRIVATE_HOSTS", ""),
        # Outbound webhooks: how often due deliveries are swept up; after how many days of
        # nothing but failures an endpoint is disabled (and its owner emailed); how many days
        # a finished delivery is kept, and how often those past it are removed.
        "WEBHOOK_SWEEP_SECONDS": os.environ.get("WEBHOOK_SWEEP_SECONDS"),
        "WEBHOOK_DISABLE_AFTER_DAYS": float(os.environ.get("WEBHOOK_DISABLE_AFTER_DAYS", 5)),
        "WEBHOOK_KEEP_DAYS": os.environ.get("WEBHOOK_KEEP_DAYS"),
        "WEBHOOK_PRUNE_SECONDS": os.environ.get("WEBHOOK_PRUNE_SECONDS"),
    }


def _asset_settings(instance_path: str) -> dict:
    return {
        # Uploaded email images: "local" keeps them in ASSET_DIR, "s3" in an S3-compatible bucket
        # (credentials from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE).
        "ASSET_STORAGE": (os.environ.get("ASSET_STORAGE") or "local").strip().lower(),
        "ASSET_DIR": os.environ.get("ASSET_DIR") or str(Path(instance_path) / "assets"),
        "ASSET_S3_BUCKET": os.environ.get("ASSET_S3_BUCKET") or None,
        "ASSET_S3_ENDPOINT_URL": os.environ.get("ASSET_S3_ENDPOINT_URL") or None,
        "ASSET_S3_REGION": os.environ.get("ASSET_S3_REGION") or None,
        # Limits of one image: its file, each side, and the pixels it decodes to (a small file
        # can decode to gigabytes: the pixel count is checked before any pixel is read).
        "ASSET_MAX_BYTES": int(os.environ.get("ASSET_MAX_BYTES", 5 * 1024 * 1024)),
        "ASSET_MAX_SIDE": int(os.environ.get("ASSET_MAX_SIDE", 4000)),
        "ASSET_MAX_PIXELS": int(os.environ.get("ASSET_MAX_PIXELS", 20_000_000)),
    }


def check_config(config: dict) -> None:
    """Refuse to start with settings that are unsafe in production."""
    if not config.get("SECRET_KEY"):
        if config.get("DEBUG") or config.get("TESTING"):
            config["SECRET_KEY"] = "dev-only-insecure-key"
        else:
            raise ConfigError(
                "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
                "(or FLASK_DEBUG=1 for local development)."
            )


def derive_settings(config: dict) -> None:
    """Settings that follow from others or need parsing, worked out once the environment and
    the caller's overrides are merged; ConfigError for a value the app cannot use."""
    config["WEBHOOK_PRIVATE_HOSTS"] = _host_list("WEBHOOK_PRIVATE_HOSTS", config.get("WEBHOOK_PRIVATE_HOSTS"))
    _check_asset_storage(config)
    _check_webhook_retention(config)
    _check_intervals(config)
    if not config.get("MAIL_SYSTEM_FROM"):
        config["MAIL_SYSTEM_FROM"] = system_sender(config.get("BASE_URL", ""))
    if config.get("BASE_URL", "").lower().startswith("https://"):
        # Served over https: the browser must never send the cookies over plain http.
        config["SESSION_COOKIE_SECURE"] = config["REMEMBER_COOKIE_SECURE"] = True


def system_sender(base_url: str) -> str:
    """no-reply@ the public host; a bare IP or single-label host (a development machine)
    has no mail domain, so it becomes localhost."""
    host = (urlsplit(base_url).hostname or "").rstrip(".")
    if "." not in host or host.replace(".", "").isdigit():
        host = "localhost"
    return f"no-reply@{host}"


def _check_asset_storage(config: dict) -> None:
    storage = config.get("ASSET_STORAGE", "local")
    if storage not in ("local", "s3"):
        raise ConfigError(f"ASSET_STORAGE: '{storage}' is neither 'local' nor 's3'")
    if storage == "s3" and not config.get("ASSET_S3_BUCKET"):
        raise ConfigError("ASSET_STORAGE is 's3' but ASSET_S3_BUCKET is not set: name the bucket images go to")


# The periodic jobs' intervals (tasks/schedule.py) and their defaults, the one place these are
# given: whole seconds, 1 or more (the scheduler divides the clock by them). The environment's
# value, when set, is read in the groups above, beside what each one means.
INTERVALS = {"SEGMENT_RECALC_SECONDS": 3600, "KEPT_COUNT_FOLD_SECONDS": 60, "RECONCILE_SECONDS": 20,
             "TRACKING_WRITER_SECONDS": 5, "INGEST_FOLLOWUP_SWEEP_SECONDS": 30, "IMPORT_RESUME_SECONDS": 60,
             "WORKFLOW_TICK_SECONDS": 10, "WORKFLOW_EVENT_DAY_SECONDS": 300, "EVENT_SETTLE_SECONDS": 300,
             "EVENT_REMINDER_SECONDS": 60, "WAITLIST_SWEEP_SECONDS": 60, "WEBHOOK_SWEEP_SECONDS": 15,
             "WEBHOOK_PRUNE_SECONDS": 3600, "SIGNUP_SWEEP_SECONDS": 60, "SIGNUP_FORGET_SECONDS": 3600}


def _check_intervals(config: dict) -> None:
    """Each periodic interval a whole number of seconds, 1 or more, or a ConfigError naming it."""
    for name, default in INTERVALS.items():
        value = default if config.get(name) is None else config[name]
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            seconds = 0
        if seconds < 1 or isinstance(value, float) and value != seconds:
            raise ConfigError(f"{name}: '{value}' is not a whole number of seconds, 1 or more, between two runs "
                              "of its periodic job")
        config[name] = seconds


KEEP_DAYS = 30  # WEBHOOK_KEEP_DAYS's default


def _check_webhook_retention(config: dict) -> None:
    """WEBHOOK_KEEP_DAYS a number of days, at least 1 (0 or less would remove finished
    deliveries as they finish)."""
    try:
        days = float(config["WEBHOOK_KEEP_DAYS"] if config.get("WEBHOOK_KEEP_DAYS") is not None else KEEP_DAYS)
    except (TypeError, ValueError):
        days = math.nan
    if not (math.isfinite(days) and days >= 1):
        raise ConfigError(f"WEBHOOK_KEEP_DAYS: '{config.get('WEBHOOK_KEEP_DAYS')}' is not a number of days, "
                          "1 or more, that finished webhook deliveries are kept")
    config["WEBHOOK_KEEP_DAYS"] = days


def _host_list(name: str, value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Host names and IP networks from a comma or space separated setting (or a list)."""
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value or ())
    hosts = []
    for item in items:
        item = item.strip().lower().rstrip(".")
        if not item:
            continue
        try:
            ipaddress.ip_network(item.strip("[]"), strict=False)
        except ValueError:
            if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.\-]{0,251}[a-z0-9])?", item):
                raise ConfigError(f"{name}: '{item}' is neither a host name nor an IP address or network "
                                  "such as 10.0.0.0/8") from None
        hosts.append(item)
    return tuple(hosts)
