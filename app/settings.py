"""One settings object, read from the environment once at start-up.

Every setting is validated here so that a missing or malformed value stops the process with one
clear line (``SettingsError``) instead of a stack trace at the first request.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
KEYSPACE_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")
REPLICATION_PATTERN = re.compile(r"^\{\s*'class'\s*:\s*'[A-Za-z.]+'\s*(,\s*'[A-Za-z0-9_]+'\s*:\s*'?[A-Za-z0-9_]+'?\s*)*\}$")
DEFAULT_REPLICATION = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
DEV_SECRET_FILE = ".data/secret"


class SettingsError(Exception):
    """A setting is missing or malformed; ``str(error)`` is the one line shown to the operator."""


@dataclass(frozen=True)
class Settings:
    """Everything the service and the CLI read from the environment.

    ``cassandra_hosts`` empty means the embedded development server on 127.0.0.1.
    """

    cassandra_hosts: Tuple[str, ...] = ()
    cassandra_port: int = 9042
    keyspace: str = "slotbandit"
    protocol_version: Optional[int] = None
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    replication: str = DEFAULT_REPLICATION
    kafka_bootstrap_servers: Optional[str] = None
    secret: Optional[bytes] = field(default=None, repr=False)
    port: int = 8000
    # Embedded development server.
    cassandra_data_dir: Path = REPO_ROOT / ".data" / "cassandra"
    cassandra_storage_port: int = 7000
    cassandra_jit: str = "full"  # the JVM's compilers: "full" (C1, then C2 for hot code) or "quick" (C1 only)
    cache_dir: Path = REPO_ROOT / ".cache"
    # Request-path tuning (see README, "Speed").
    posterior_refresh_s: float = 1.0
    config_refresh_s: float = 2.0
    write_queue_size: int = 10_000
    write_interval_s: float = 0.5
    max_body_bytes: int = 64 * 1024
    max_events_body_bytes: int = 1024 * 1024  # POST /events: up to 1,000 events of about 1 KiB
    log_level: str = "INFO"
    access_log: bool = False
    # Per-tenant rate limits (see README, "Rate limits").
    default_rps: float = 0.0  # tenants without a limit of their own; 0: unlimited
    rate_limit_file: Optional[Path] = None  # the instance's shared buckets; None: this process's own
    # Kafka mode (see README, "Kafka clickstream").
    kafka_topic_prefix: str = "slotbandit."
    kafka_port: int = 19092
    spool_dir: Path = REPO_ROOT / ".data" / "spool"
    spool_max_events: int = 200_000

    @property
    def embedded(self) -> bool:
        """True when no external cluster is configured and the embedded server is used."""
        return not self.cassandra_hosts

    @property
    def local_hosts(self) -> bool:
        """True when every configured host is a loopback address (the embedded server or local cluster)."""
        return all(host.startswith("127.") or host == "localhost" for host in self.contact_points)

    @property
    def contact_points(self) -> Tuple[str, ...]:
        return self.cassandra_hosts or ("127.0.0.1",)

    @property
    def effective_protocol_version(self) -> Optional[int]:
        """The embedded Cassandra 2.1 only speaks protocol v3; real clusters negotiate."""
        if self.protocol_version is None and self.embedded:
            return 3
        return self.protocol_version

    def require_secret(self) -> bytes:
        if not self.secret:
            raise SettingsError(
                "SLOTBANDIT_SECRET is not set: set it to a random string of at least 16 characters "
                "(it signs decision ids; every worker must share it)"
            )
        return self.secret

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        env = os.environ if env is None else env
        hosts = tuple(h.strip() for h in env.get("CASSANDRA_HOSTS", "").split(",") if h.strip())
        keyspace = env.get("CASSANDRA_KEYSPACE", "slotbandit")
        if not KEYSPACE_PATTERN.match(keyspace):
            raise SettingsError(
                f"CASSANDRA_KEYSPACE must be a letter followed by up to 47 letters, digits or _, but {keyspace!r} is given"
            )
        replication = env.get("CASSANDRA_REPLICATION", DEFAULT_REPLICATION).strip()
        if not REPLICATION_PATTERN.match(replication):
            raise SettingsError(
                "CASSANDRA_REPLICATION must be a CQL map such as "
                f"{DEFAULT_REPLICATION}, but {replication!r} is given"
            )
        protocol = env.get("CASSANDRA_PROTOCOL_VERSION", "").strip()
        secret = env.get("SLOTBANDIT_SECRET")
        if secret is not None and len(secret) < 16:
            raise SettingsError("SLOTBANDIT_SECRET must be at least 16 characters long")
        username = env.get("CASSANDRA_USERNAME") or None
        password = env.get("CASSANDRA_PASSWORD") or None
        if (username is None) != (password is None):
            raise SettingsError("CASSANDRA_USERNAME and CASSANDRA_PASSWORD must be set together")
        return cls(
            cassandra_hosts=hosts,
            cassandra_port=_int(env, "CASSANDRA_PORT", 9042, 1, 65535),
            keyspace=keyspace,
            protocol_version=_int(env, "CASSANDRA_PROTOCOL_VERSION", 0, 1, 6) if protocol else None,
            username=username,
            password=password,
            replication=replication,
            secret=secret.encode() if secret else None,
            port=_int(env, "SLOTBANDIT_PORT", 8000, 1, 65535),
            cassandra_data_dir=Path(env.get("SLOTBANDIT_CASSANDRA_DATA_DIR", str(cls.cassandra_data_dir))).resolve(),
            cassandra_storage_port=_int(env, "SLOTBANDIT_CASSANDRA_STORAGE_PORT", 7000, 1, 65535),
            cassandra_jit=_choice(env, "SLOTBANDIT_CASSANDRA_JIT", "FULL", ("QUICK", "FULL")).lower(),
            cache_dir=Path(env.get("SLOTBANDIT_CACHE_DIR", str(cls.cache_dir))).resolve(),
            posterior_refresh_s=_float(env, "SLOTBANDIT_POSTERIOR_REFRESH_S", 1.0, 0.05, 60.0),
            config_refresh_s=_float(env, "SLOTBANDIT_CONFIG_REFRESH_S", 2.0, 0.05, 4.0),
            write_queue_size=_int(env, "SLOTBANDIT_WRITE_QUEUE", 10_000, 100, 1_000_000),
            write_interval_s=_float(env, "SLOTBANDIT_WRITE_INTERVAL_S", 0.5, 0.01, 5.0),
            max_body_bytes=_int(env, "SLOTBANDIT_MAX_BODY_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
            max_events_body_bytes=_int(env, "SLOTBANDIT_MAX_EVENTS_BODY_BYTES", 1024 * 1024, 1024,
                                       64 * 1024 * 1024),
            log_level=_choice(env, "SLOTBANDIT_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            access_log=_choice(env, "SLOTBANDIT_ACCESS_LOG", "0", ("0", "1")) == "1",
            default_rps=_float(env, "SLOTBANDIT_DEFAULT_RPS", 0.0, 0.0, 1_000_000.0),
            rate_limit_file=Path(env["SLOTBANDIT_RATE_LIMIT_FILE"]).resolve()
            if env.get("SLOTBANDIT_RATE_LIMIT_FILE", "").strip() else None,
            **_kafka_settings(env),
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer between {low} and {high}, but {raw!r} is given") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be an integer between {low} and {high}, but {value} is given")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number between {low} and {high}, but {raw!r} is given") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be a number between {low} and {high}, but {value} is given")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: Tuple[str, ...]) -> str:
    value = env.get(name, default).strip().upper() or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, but {value!r} is given")
    return value


BOOTSTRAP_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+:[0-9]{1,5}(,[A-Za-z0-9_.\-]+:[0-9]{1,5})*$")
TOPIC_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{0,100}$")


def _kafka_settings(env: Mapping[str, str]) -> dict:
    """KAFKA_BOOTSTRAP_SERVERS and the settings of Kafka mode, validated."""
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "").replace(" ", "") or None
    if bootstrap is not None and not BOOTSTRAP_PATTERN.match(bootstrap):
        raise SettingsError(f"KAFKA_BOOTSTRAP_SERVERS must be a comma list of host:port, but {bootstrap!r} is given")
    prefix = env.get("SLOTBANDIT_KAFKA_TOPIC_PREFIX", "slotbandit.")
    if not TOPIC_PREFIX_PATTERN.match(prefix):
        raise SettingsError("SLOTBANDIT_KAFKA_TOPIC_PREFIX may hold only letters, digits, '.', '_' and '-', "
                            f"but {prefix!r} is given")
    return {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_topic_prefix": prefix,
        "kafka_port": _int(env, "SLOTBANDIT_KAFKA_PORT", 19092, 1, 65535),
        "spool_dir": Path(env.get("SLOTBANDIT_SPOOL_DIR", str(Settings.spool_dir))).resolve(),
        "spool_max_events": _int(env, "SLOTBANDIT_SPOOL_MAX_EVENTS", 200_000, 1_000, 100_000_000),
    }


@dataclass(frozen=True)
class DeliverySettings:
    """Where report messages go out: the SMTP server of ``--email`` and the retry back-off of every delivery.

    Read only by the commands that deliver reports (``report --webhook/--email``, ``scheduler``).
    """

    smtp_host: Optional[str] = None
    smtp_port: int = 25
    smtp_username: Optional[str] = None
    smtp_password: Optional[str] = field(default=None, repr=False)
    smtp_starttls: bool = False
    report_from: str = "slotbandit@localhost"
    attempts: int = 4  # one try and three retries
    backoff_s: float = 2.0  # waits backoff_s, 2 x backoff_s, 4 x backoff_s between attempts

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "DeliverySettings":
        env = os.environ if env is None else env
        username = env.get("SMTP_USERNAME") or None
        password = env.get("SMTP_PASSWORD") or None
        if (username is None) != (password is None):
            raise SettingsError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
        sender = env.get("REPORT_FROM", cls.report_from).strip()
        if not EMAIL_PATTERN.match(sender):
            raise SettingsError(f"REPORT_FROM must be an e-mail address, but {sender!r} is given")
        starttls = _choice(env, "SMTP_STARTTLS", "0", ("0", "1", "TRUE", "FALSE")) in ("1", "TRUE")
        return cls(
            smtp_host=env.get("SMTP_HOST", "").strip() or None,
            smtp_port=_int(env, "SMTP_PORT", 587 if starttls else 25, 1, 65535),
            smtp_username=username,
            smtp_password=password,
            smtp_starttls=starttls,
            report_from=sender,
            attempts=_int(env, "SLOTBANDIT_DELIVERY_ATTEMPTS", 4, 1, 10),
            backoff_s=_float(env, "SLOTBANDIT_DELIVERY_BACKOFF_S", 2.0, 0.0, 300.0),
        )


EMAIL_PATTERN = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")
