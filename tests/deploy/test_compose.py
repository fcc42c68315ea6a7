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
PROFILE = "two-controllers"
CONTROLLERS = {"cmr": "", "cmr-2": "-2"}
"""Controller name -> suffix of its compose services; `cmr-2` only runs with the profile."""
PUBLISHED = {"cmr": 17070, "cmr-2": 17170}
"""Controller name -> loopback port its gateway is published on."""
SECRET = {"cmr": "admin-password", "cmr-2": "admin-password-2"}
"""Controller name -> compose secret holding its initial `admin` password."""
ROLE = {f"{role}{suffix}": role for suffix in CONTROLLERS.values() for role in config.ALL}
"""Compose service name -> the server it runs (`offers-2` -> `offers`)."""
OWNER = {f"{role}{suffix}": c for c, suffix in CONTROLLERS.items() for role in config.ALL}
"""Compose service name -> the controller it belongs to."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every service in the file, whatever its profile."""
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def default_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services `docker compose up` starts: those without a profile."""
    return {name: service for name, service in services.items() if not service.get("profiles")}


@pytest.fixture(scope="module")
def controllers(
    services: dict[str, dict[str, Any]],
) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """Return {controller: {role: (compose service name, service)}}."""
    return {
        controller: {
            role: (f"{role}{suffix}", services[f"{role}{suffix}"])
            for role in config.ALL
            if f"{role}{suffix}" in services
        }
        for controller, suffix in CONTROLLERS.items()
    }


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


def _secrets(service: dict[str, Any]) -> list[str]:
    return [s if isinstance(s, str) else s["source"] for s in service.get("secrets") or []]


def _ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Return (host ip, published port, container port) for each published port."""
    found: list[tuple[str, int, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, str):
            host_ip, published, target = entry.split(":")
            found.append((host_ip, int(published), int(target)))
        else:
            found.append((entry["host_ip"], int(entry["published"]), int(entry["target"])))
    return found


def _peer_addresses(service: dict[str, Any]) -> dict[str, str]:
    """Return {role: address} for the `CMR_<SERVICE>_ADDR` variables the service sets."""
    env = _environment(service)
    return {
        role: env[f"CMR_{role.upper()}_ADDR"]
        for role in config.ALL
        if f"CMR_{role.upper()}_ADDR" in env
    }


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


def test_one_container_per_store_and_the_gateway(
    default_services: dict[str, dict[str, Any]],
) -> None:
    assert set(default_services) == set(config.ALL)


def test_the_profile_holds_a_second_controller_and_nothing_else(
    services: dict[str, dict[str, Any]], default_services: dict[str, dict[str, Any]]
) -> None:
    in_profile = {name for name in services if name not in default_services}
    assert in_profile == {f"{role}-2" for role in config.ALL}
    for name in in_profile:
        assert services[name]["profiles"] == [PROFILE], name


def test_default_services_have_no_profile(
    default_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in default_services.items():
        assert "profiles" not in service, name


def test_every_dependency_exists_and_waits_for_health(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, condition in depends.items():
            assert target in services, f"{name} depends on undefined service {target}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {target}"
            assert OWNER[target] == OWNER[name], f"{name} depends on another controller"


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_gateway_waits_for_all_four_services(
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]], controller: str
) -> None:
    own = controllers[controller]
    _, gateway = own["gateway"]
    assert set(gateway["depends_on"]) == {own[role][0] for role in STORES}


def test_every_service_probes_its_own_port(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        test = check["test"]
        assert test[: len(PROBE)] == PROBE, f"{name}: {test}"
        assert test[-1].endswith(f":{config.DEFAULT_PORTS[ROLE[name]]}"), f"{name}: {test}"


def test_every_service_runs_cmr_serve_for_itself(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        command = service["command"]
        if isinstance(command, str):
            command = command.split()
        assert command == ["cmr", "serve", "--service", ROLE[name]], name


def test_all_containers_come_from_one_image(services: dict[str, dict[str, Any]]) -> None:
    builds = {repr(service.get("build")) for service in services.values()}
    images = {service.get("image") for service in services.values()}
    assert len(builds) == 1
    assert len(images) == 1


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_each_store_has_its_own_named_volume_at_its_data_dir(
    compose: dict[str, Any],
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]],
    controller: str,
) -> None:
    declared = set(compose.get("volumes") or {})
    seen: set[str] = set()
    own = controllers[controller]
    for role in STORES:
        name, service = own[role]
        data_dir = _environment(service).get("CMR_DATA_DIR", "/data")
        volumes = _named_volumes(service)
        at_data_dir = [volume for volume, target in volumes.items() if target == data_dir]
        assert len(at_data_dir) == 1, f"{name}: {volumes}"
        assert at_data_dir[0] in declared, f"{name}: volume {at_data_dir[0]} is not declared"
        assert at_data_dir[0] not in seen, f"{name} shares volume {at_data_dir[0]}"
        seen.add(at_data_dir[0])
    assert not _named_volumes(own["gateway"][1]), "the gateway keeps nothing durable"


def test_no_volume_or_secret_is_shared_between_controllers(
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]],
) -> None:
    volumes = {
        c: {v for _, service in own.values() for v in _named_volumes(service)}
        for c, own in controllers.items()
    }
    secrets = {
        c: {s for _, service in own.values() for s in _secrets(service)}
        for c, own in controllers.items()
    }
    assert all(volumes.values()), volumes
    assert not volumes["cmr"] & volumes["cmr-2"], volumes
    assert not secrets["cmr"] & secrets["cmr-2"], secrets


def test_only_the_gateways_are_published_each_on_its_own_loopback_port(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if ROLE[name] != "gateway":
            assert not service.get("ports"), f"{name} publishes a port"
    for controller, suffix in CONTROLLERS.items():
        gateway = config.DEFAULT_PORTS["gateway"]
        assert _ports(services[f"gateway{suffix}"]) == [
            ("127.0.0.1", PUBLISHED[controller], gateway)
        ]
    assert len(set(PUBLISHED.values())) == len(PUBLISHED)


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_gateway_knows_every_peer_address(
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]], controller: str
) -> None:
    own = controllers[controller]
    assert _peer_addresses(own["gateway"][1]) == {
        role: f"{own[role][0]}:{config.DEFAULT_PORTS[role]}" for role in STORES
    }


def test_every_service_points_only_at_its_own_controllers_peers(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        addresses = _peer_addresses(service)
        assert addresses, f"{name} sets no peer address"
        for role, address in addresses.items():
            host, _, port = address.rpartition(":")
            assert host == f"{role}{CONTROLLERS[OWNER[name]]}", f"{name}: {role} at {address}"
            assert int(port) == config.DEFAULT_PORTS[role], f"{name}: {role} at {address}"


def test_each_controller_has_one_name_and_the_names_differ(
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]],
) -> None:
    for controller, own in controllers.items():
        names = {_environment(service)["CMR_CONTROLLER_NAME"] for _, service in own.values()}
        assert names == {controller}, f"{controller}: {names}"


def test_gateways_advertise_their_own_distinct_addresses(
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]],
) -> None:
    advertised: dict[str, str] = {}
    for controller, own in controllers.items():
        name, gateway = own["gateway"]
        advertised[controller] = _environment(gateway)["CMR_ADVERTISE_ADDRESS"]
        # The other controller reaches it by service name on the compose network.
        assert advertised[controller] == f"{name}:{config.DEFAULT_PORTS['gateway']}"
    assert len(set(advertised.values())) == len(advertised), advertised


def test_every_container_binds_all_interfaces(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert _environment(service)["CMR_HOST"] == "0.0.0.0", name  # noqa: S104


@pytest.mark.parametrize("name", sorted(ROLE))
def test_environment_loads_into_the_config_the_server_uses(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    role, controller = ROLE[name], OWNER[name]
    suffix = CONTROLLERS[controller]
    env = _environment(services[name])
    cfg = config.load(env=env)
    assert cfg.host == "0.0.0.0"  # noqa: S104
    assert cfg.ports[role] == config.DEFAULT_PORTS[role]
    assert cfg.controller_name == controller
    if role == "gateway":
        assert {s: cfg.address_of(s) for s in STORES} == {
            s: f"{s}{suffix}:{config.DEFAULT_PORTS[s]}" for s in STORES
        }
        assert cfg.advertise_address == f"{name}:{config.DEFAULT_PORTS['gateway']}"


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_access_reads_the_admin_password_from_a_compose_secret(
    compose: dict[str, Any],
    controllers: dict[str, dict[str, tuple[str, dict[str, Any]]]],
    controller: str,
) -> None:
    secret = SECRET[controller]
    _, access = controllers[controller]["access"]
    assert _secrets(access) == [secret]
    env = _environment(access)
    assert env["CMR_BOOTSTRAP_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    assert compose["secrets"][secret] == {"file": f"./secrets/{secret}"}
    for role, (name, service) in controllers[controller].items():
        if role != "access":
            assert not _secrets(service), f"{name} needs no secret"
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
