"""docker-compose.yml and the Dockerfile, checked offline: no Docker engine, no network."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common import config

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
STORES = config.SERVICES
PROBE = ["CMD", "python", "-m", "services.common.healthcheck"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `KEY=VALUE` list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Return {volume name: mount point} for the service's named volumes (not bind mounts)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            source, _, rest = entry.partition(":")
            target = rest.split(":", 1)[0]
        else:
            source, target = entry.get("source", ""), entry.get("target", "")
        if source and not source.startswith((".", "/", "~")):
            mounts[source] = target
    return mounts


def test_compose_file_matches_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_avoids_compose_v2_only_keys(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    # Debian's docker-compose 1.29 rejects these.
    assert "name" not in compose
    for name, service in services.items():
        assert "start_interval" not in (service.get("healthcheck") or {}), name


def test_one_container_per_store_and_the_gateway(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == set(config.ALL)


def test_every_dependency_exists_and_waits_for_health(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, condition in depends.items():
            assert target in services, f"{name} depends on undefined service {target}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {target}"


def test_gateway_waits_for_all_four_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services["gateway"]["depends_on"]) == set(STORES)


def test_every_service_probes_its_own_port(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        test = check["test"]
        assert test[: len(PROBE)] == PROBE, f"{name}: {test}"
        assert test[-1].endswith(f":{config.DEFAULT_PORTS[name]}"), f"{name}: {test}"


def test_every_service_runs_cmr_serve_for_itself(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        command = service["command"]
        if isinstance(command, str):
            command = command.split()
        assert command == ["cmr", "serve", "--service", name]


def test_all_containers_come_from_one_image(services: dict[str, dict[str, Any]]) -> None:
    builds = {repr(service.get("build")) for service in services.values()}
    images = {service.get("image") for service in services.values()}
    assert len(builds) == 1
    assert len(images) == 1


def test_each_store_has_its_own_named_volume_at_its_data_dir(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    seen: set[str] = set()
    for name in STORES:
        service = services[name]
        data_dir = _environment(service).get("CMR_DATA_DIR", "/data")
        volumes = _named_volumes(service)
        at_data_dir = [volume for volume, target in volumes.items() if target == data_dir]
        assert len(at_data_dir) == 1, f"{name}: {volumes}"
        assert at_data_dir[0] in declared, f"{name}: volume {at_data_dir[0]} is not declared"
        assert at_data_dir[0] not in seen, f"{name} shares volume {at_data_dir[0]}"
        seen.add(at_data_dir[0])
    assert not _named_volumes(services["gateway"]), "the gateway keeps nothing durable"


def test_only_the_gateway_is_published_and_only_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name != "gateway":
            assert not service.get("ports"), f"{name} publishes a port"
    ports = services["gateway"]["ports"]
    assert len(ports) == 1
    if isinstance(ports[0], str):
        assert ports[0] == "127.0.0.1:17070:17070"
    else:
        assert ports[0]["host_ip"] == "127.0.0.1"
        assert int(ports[0]["target"]) == int(ports[0]["published"]) == 17070


def test_gateway_knows_every_peer_address(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["gateway"])
    for name in STORES:
        assert env[f"CMR_{name.upper()}_ADDR"] == f"{name}:{config.DEFAULT_PORTS[name]}"


def test_every_container_binds_all_interfaces(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert _environment(service)["CMR_HOST"] == "0.0.0.0", name  # noqa: S104


@pytest.mark.parametrize("name", config.ALL)
def test_environment_loads_into_the_config_the_server_uses(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = _environment(services[name])
    cfg = config.load(env=env)
    assert cfg.host == "0.0.0.0"  # noqa: S104
    assert cfg.ports[name] == config.DEFAULT_PORTS[name]
    if name == "gateway":
        assert {s: cfg.address_of(s) for s in STORES} == {
            s: f"{s}:{config.DEFAULT_PORTS[s]}" for s in STORES
        }


def test_access_reads_the_admin_password_from_a_compose_secret(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    access = services["access"]
    names = [s if isinstance(s, str) else s["source"] for s in access["secrets"]]
    assert names == ["admin-password"]
    env = _environment(access)
    assert env["CMR_BOOTSTRAP_PASSWORD_FILE"] == "/run/secrets/admin-password"
    assert compose["secrets"]["admin-password"] == {"file": "./secrets/admin-password"}
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"secrets/", "/secrets/"} & set(ignored), "secrets/ must be git-ignored"


def _instructions(text: str) -> list[str]:
    """Return the Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_dockerfile_generates_protos_and_never_copies_gen() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    runs = [i for i in instructions if i.upper().startswith("RUN ")]
    assert any("scripts/gen_protos.py" in run for run in runs)
    for copy in (i for i in instructions if i.upper().startswith(("COPY ", "ADD "))):
        if "--from=" in copy:
            continue  # from a build stage, where gen/ was generated
        sources = copy.split()[1:-1]
        assert not any(src.rstrip("/").split("/")[0] in ("gen", ".") for src in sources), copy


def test_dockerfile_pins_its_installs_and_runs_unprivileged() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    assert instructions[0].startswith("FROM python:3.11-slim")
    for run in (i for i in instructions if "pip install" in i):
        assert "-c constraints.txt" in run, run
    users = [i.split()[1] for i in instructions if i.upper().startswith("USER ")]
    assert users, "no USER: the servers would run as root"
    assert users[-1] not in ("root", "0")
    assert any(i.startswith("VOLUME") and "/data" in i for i in instructions)
    assert any("PYTHONPATH=/app/gen:/app" in i for i in instructions if i.startswith("ENV"))
    cmd = [i for i in instructions if i.upper().startswith("CMD ")][-1]
    assert cmd == 'CMD ["cmr", "serve"]'


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {line.strip().strip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    for entry in (".venv", "gen", ".git", "secrets", ".mypy_cache", ".pytest_cache"):
        assert entry in ignored, entry
