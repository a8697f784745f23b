"""Settings read from the environment (prefix ``JINQIAO_``); built in ``server.py``, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KitSettings(BaseSettings):
    """What every service process needs: identity, database, broker, auth and PII keys."""

    model_config = SettingsConfigDict(env_prefix="JINQIAO_", extra="ignore")

    service_name: str = "jinqiao"
    environment: str = "embedded"
    host: str = "127.0.0.1"
    grpc_port: int = 0
    metrics_port: int = 0

    database_url: str = Field(default="", description="asyncpg DSN of the service's own database (app role)")
    db_pool_min: int = 2
    db_pool_max: int = 10

    # One server or a cluster: comma-separated URLs, any of which may be down (nats-py tries the others).
    nats_url: str = "nats://127.0.0.1:4222"
    # JetStream replicas of each producer's stream and of its durable consumers: 1 embedded, 3 on a cluster.
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    # The broker refuses anonymous clients: each service logs in as itself (the runner generates the passwords).
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    relay_batch: int = 256
    relay_poll_seconds: float = 1.0
    consumer_max_deliver: int = 5
    consumer_ack_wait_seconds: float = 30.0
    # How often policy timers are swept (0 disables the sweep, e.g. in tests that drive a fake clock).
    timer_interval_seconds: float = 60.0

    jwt_issuer: str = "jinqiao"
    jwt_audience: str = "jinqiao"
    jwt_public_key_file: Path | None = None
    jwt_private_key_file: Path | None = None
    jwt_ttl_seconds: int = 3600

    pii_keys: SecretStr = Field(default=SecretStr(""), description="'version:base64key,…' AES-256 keys")
    pii_active_key: int = 1
    blind_index_key: SecretStr = SecretStr("")

    log_level: str = "info"
    log_json: bool = True

    # TLS on the gRPC port (deploy: county systems call it from outside). Both files set → the port speaks TLS only.
    grpc_tls_cert_file: Path | None = Field(default=None, description="PEM certificate chain of the gRPC port")
    grpc_tls_key_file: Path | None = Field(default=None, description="PEM private key of that certificate")
    # What callers inside the platform (the gateway, the demo seed) trust when the services speak TLS.
    grpc_tls_ca_file: Path | None = Field(default=None, description="PEM CA certificate(s) of the gRPC ports")
    # Deployed beyond one machine: a second gRPC port for calls between the platform's own processes, mutual TLS
    # only (the cert/key above as both server and client identity, the CA above verifying peers); 0 = none.
    grpc_internal_port: int = Field(default=0, ge=0, le=65535)
    # Each county system (one service account) may call one service this often; people are not limited here.
    grpc_client_rate_limit: str = Field(default="600/minute", description="a `limits` rate, e.g. 600/minute")
    grpc_client_rate_limit_storage: str = Field(default="async+memory://",
                                                description="limits storage URI; a shared one for replicas")
    # Service accounts (gateway): how long a county system's token lives and a rotated-out secret still works.
    client_token_ttl_seconds: int = Field(default=300, ge=30, le=300)
    client_secret_grace_seconds: int = Field(default=86400, ge=0, description="previous secret accepted this long")

    # Readiness (kit/health.py): how often the dependencies are probed, and how long one probe may take.
    readiness_interval_seconds: float = Field(default=2.0, gt=0)
    readiness_timeout_seconds: float = Field(default=1.0, gt=0)
    # Retention (kit/retention.py, issue 11 finding 6). A stream keeps a message at most this long, and refuses new
    # ones (the outbox keeps them pending) once it holds this many bytes: a consumer may be away up to max_age.
    stream_max_age_seconds: float = Field(default=7 * 86400.0, gt=0)
    stream_max_bytes: int = Field(default=1024**3, gt=0, description="JetStream stream size limit per producer")
    # Sent outbox rows are kept this long (for inspection); pending rows are never pruned.
    outbox_retention_seconds: float = Field(default=86400.0, ge=0)
    # Inbox rows are kept for stream max_age plus this margin: longer than any redelivery (see kit/retention.py).
    inbox_horizon_margin_seconds: float = Field(default=86400.0, gt=0)
    # How often pruning runs (0 disables it) and how many rows one DELETE may remove.
    retention_interval_seconds: float = Field(default=600.0, ge=0)
    retention_batch: int = Field(default=5000, ge=1, le=5000)
    # The province's retention policy per kind of record (kit/lifecycle.py); None: deploy/retention.toml.
    retention_policy_file: Path | None = Field(default=None, description="TOML retention policy (issue 18)")
