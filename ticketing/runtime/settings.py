"""Configuration from environment variables only (TICKETING_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETING_", extra="ignore")

    # postgresql+asyncpg://…; unset means an embedded PostgreSQL under `home`. The role the
    # app connects as: one that owns no table (a member of `ticketing_app`), so row-level
    # security holds it to the principal's tenant.
    database_url: str | None = None
    # The tables' owner, for `ticketing migrate` only; unset means `database_url` migrates.
    migrate_database_url: str | None = None
    home: Path = Path(".ticketing")
    # Base of the links customers follow (tracking page, share text); the dev stack's API.
    public_url: str = "http://127.0.0.1:8000"
    # Signs tracking links and form tokens; unset on the embedded stack = generated once and
    # kept 0600 under `home`. Every process serving or mailing links needs the same one.
    secret_key: SecretStr | None = None
    # How long a tracking link in a customer mail keeps opening its ticket.
    tracking_link_days: int = Field(default=30, ge=1, le=365)
    task_queue: str = "ticketing"
    # smtp://user:pass@host:port; unset keeps notifications in the outbox and logs them.
    smtp_url: str | None = None
    smtp_sender: str = "tickets@localhost"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    # Worker tuning.
    max_concurrent_activities: int = Field(default=100, ge=1)
    max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    max_concurrent_local_activities: int = Field(default=100, ge=1)
    # Above the workflows whose timers fire together: a watcher per open ticket and the
    # dispatcher. One short and the cache's LRU evicts the very watcher due next, so a burst of
    # thresholds replays a history on every timer (bench.timer_accuracy: 1000 watchers + the
    # dispatcher under 1000 missed 358 times). ~74 KB of worker memory per cached watcher.
    max_cached_workflows: int = Field(default=2000, ge=0)
    metrics_port: int | None = None
    # The HTTP API (`ticketing dev`, `ticketing api`); loopback unless told otherwise.
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_host: str = "127.0.0.1"
    # A request still running after this many seconds is answered 503 (TICKETING_API_TIMEOUT).
    api_timeout: float = Field(default=30.0, gt=0, le=3600)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, e.g. "10.0.0.5,10.1.0.0/16"). Unset: none, the peer address is the
    # client's, so a client cannot pick the address the tracking page's rate limit counts.
    # The same for `ticketing dev` and `ticketing api`.
    trusted_proxies: str | None = None
    # Seconds a connection may stay open without sending a complete request head: after it
    # opens, and between requests (keep-alive). Closes slow-header (slowloris) connections.
    api_idle_timeout: int = Field(default=10, ge=1, le=600)
    # The largest request head (request line and headers), in bytes; larger ones get a 400.
    api_max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # Open connections (and requests in flight) per API process; beyond it requests get 503.
    api_max_connections: int = Field(default=1000, ge=1)
    # An API process remembers a key it authenticated for this many seconds (0: never), so
    # a request costs no key lookup; a key revoked elsewhere (CLI, another API process) still
    # works there for at most this long. A revoke through the API clears its own process's.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Loopback by default: the metrics endpoint has no authentication.
    metrics_host: str = "127.0.0.1"
    # Request counts and latencies at the API's own /metrics (as open as the API's address).
    api_metrics: bool = False
    # How long the worker waits for PostgreSQL and Temporal at start-up before giving up.
    startup_timeout: float = Field(default=60.0, ge=0)
    # Seconds between reconciler runs (watchers and stuck notices); the schedule is created
    # once, so a later change takes effect when the schedule is edited or deleted.
    reconcile_every: float = Field(default=300.0, ge=10)
    # Start a new ticket's watcher right after the API's (or mail intake's) answer instead of
    # before it (DeferredWatchers): the create answers without waiting for Temporal. A process
    # killed in between (or Temporal away past the start's attempts) leaves the ticket to the
    # reconciler's next pass, which starts the watcher of every open ticket committed before
    # it began: unwatched for at most `reconcile_every` seconds plus one pass. `false`: the
    # start inside the request (a crash is repaired by the client's Idempotency-Key retry).
    api_defer_watchers: bool = True
    # The Alertmanager label whose value is an alert's outage tag (else olt/cabinet/postcode).
    outage_alert_label: str = Field(default="outage_tag", min_length=1, max_length=100)
    # Mail: the right-hand side of every Message-ID (unique per installation); unset means the
    # domain of smtp_sender. The timeout bounds each SMTP step (connect, TLS, each command).
    mail_domain: str | None = None
    smtp_timeout: float = Field(default=10.0, gt=0)
    # Where desk notices with no recipient go (escalations to the platform); unset: `failed`.
    platform_email: str | None = None
    # Transient mail failures (4xx, connection) are retried with doubling delays, this many
    # attempts in all, then the row is `failed`.
    mail_retry_first_delay: float = Field(default=30.0, gt=0)
    mail_retry_max_delay: float = Field(default=3600.0, gt=0)
    mail_retry_max_attempts: int = Field(default=8, ge=1)
    # While rows are queued the dispatcher looks at least this often, should a wake-up be lost.
    dispatch_poll_seconds: float = Field(default=30.0, gt=0)
    # Mails the dispatcher has in flight at once, each over an SMTP connection it keeps for a
    # pass (a new one every 20 mails); 1 sends one mail at a time.
    dispatch_concurrency: int = Field(default=8, ge=1, le=100)
    # Encrypts every Temporal payload (AES-256-GCM): a base64 32-byte key. Old keys, comma
    # separated, still decrypt histories written before a rotation.
    payload_key: SecretStr | None = None
    payload_old_keys: SecretStr | None = None
    # Seconds a `now` sent by a workflow may differ from the database clock; outside it an
    # activity refuses it (a forged clock would fake or hide SLA breaches).
    max_clock_skew: float = Field(default=300.0, gt=0)
    # Email channel (inbound). The largest message `mail receive` and the SMTP intake take
    # (larger ones are kept as `rejected`, or refused with 552 over SMTP).
    mail_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # More mails than this from one sender to one tenant within an hour are `held`.
    mail_max_per_hour: int = Field(default=20, ge=1)
    # The authserv-id of the MTA whose Authentication-Results a `--require-auth` mailbox trusts.
    mail_authserv_id: str | None = None
    # host:port of the SMTP intake (`ticketing mail serve`, `ticketing dev`).
    mail_listen: str = "127.0.0.1:2525"
    # Seconds between two fetches of each IMAP mailbox.
    mail_imap_poll_seconds: float = Field(default=60.0, ge=1)
    # Where attachment bytes live: "postgres" (default) or "filesystem" under attachment_dir.
    attachment_store: Literal["postgres", "filesystem"] = "postgres"
    attachment_dir: Path | None = None
    # Serve the intake's outcome counts (Prometheus) on metrics_host at this port from
    # `ticketing mail serve` / `ticketing dev`; unset: not served.
    mail_metrics_port: int | None = Field(default=None, ge=0, le=65535)
