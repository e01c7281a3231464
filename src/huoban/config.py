"""Settings from HUOBAN_* environment variables (and an optional .env file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUOBAN_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_CN"

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    mail_from: str = "huoban@localhost"

    login_max_failures: int = Field(5, ge=1)
    lockout_minutes: int = Field(15, ge=1)
    session_idle_minutes: int = Field(30, ge=1)
    session_max_hours: int = Field(12, ge=1)
    password_min_length: int = Field(10, ge=8)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    cookie_secure: bool = False

    worker_poll_seconds: float = 2.0
    worker_lease_seconds: int = 120
    sweep_interval_seconds: float = 30.0
    outbox_max_attempts: int = 8
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False
    smtp_timeout_seconds: float = 30.0

    # travel estimates for dispatch: great-circle km x winding factor, at a speed by distance band
    dispatch_winding_factor: float = Field(1.35, ge=1.0, le=3.0)
    dispatch_city_km: float = Field(40.0, gt=0)  # up to this: city streets
    dispatch_city_kmh: float = Field(30.0, gt=0)
    dispatch_intercity_km: float = Field(300.0, gt=0)  # up to this: expressways between cities
    dispatch_intercity_kmh: float = Field(80.0, gt=0)
    dispatch_remote_kmh: float = Field(55.0, gt=0)  # beyond: long trips ending on remote county roads
    dispatch_setup_minutes: int = Field(15, ge=0)  # getting ready and parking

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'huoban.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once into var/secret_key so restarts keep sessions."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key


@lru_cache
def get_settings() -> Settings:
    return Settings()
