"""Charm metadata: the sample charms, valid shapes, and every refusal with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel import errors
from kernel.relation import Role, Scope
from services.placement.charm import Endpoint, check_application_name, parse_metadata

CHARMS = Path(__file__).resolve().parents[3] / "charms"
JUJU_INFO = Endpoint(name="juju-info", role=Role.PROVIDER, interface="juju-info", implicit=True)


@pytest.mark.parametrize(
    "path", sorted(CHARMS.glob("*/metadata.yaml")), ids=lambda p: p.parent.name
)
def test_every_sample_charm_is_valid(path: Path) -> None:
    meta = parse_metadata(path.read_text())
    assert meta.name == path.parent.name
    assert meta.summary
    assert meta.endpoints[-1] == JUJU_INFO


def test_the_named_sample_charms_exist() -> None:
    names = {p.parent.name for p in CHARMS.glob("*/metadata.yaml")}
    assert {"mysql", "wordpress", "mediawiki", "logging"} <= names


def test_sample_wordpress_and_logging_have_their_container_endpoints() -> None:
    wordpress = parse_metadata((CHARMS / "wordpress" / "metadata.yaml").read_text())
    by_name = {e.name: e for e in wordpress.endpoints}
    assert by_name["db"] == Endpoint(name="db", role=Role.REQUIRER, interface="mysql", limit=1)
    assert by_name["website"].interface == "http"
    assert by_name["logging-dir"].scope is Scope.CONTAINER
    logging = parse_metadata((CHARMS / "logging" / "metadata.yaml").read_text())
    assert logging.subordinate
    assert [(e.name, e.role, e.scope) for e in logging.endpoints] == [
        ("logging-client", Role.PROVIDER, Scope.GLOBAL),
        ("info", Role.REQUIRER, Scope.CONTAINER),
        ("logging-directory", Role.REQUIRER, Scope.CONTAINER),
        ("juju-info", Role.PROVIDER, Scope.GLOBAL),
    ]


def test_endpoints_come_in_section_order_then_juju_info() -> None:
    meta = parse_metadata(
        "name: wp\n"
        "peers: {ring: ring}\n"
        "requires:\n  db: mysql\n"
        "provides:\n  logs: {interface: logging, scope: container, limit: 2, optional: true}\n"
    )
    assert meta.endpoints == (
        Endpoint(
            name="logs",
            role=Role.PROVIDER,
            interface="logging",
            scope=Scope.CONTAINER,
            limit=2,
            optional=True,
        ),
        Endpoint(name="db", role=Role.REQUIRER, interface="mysql"),
        Endpoint(name="ring", role=Role.PEER, interface="ring"),
        JUJU_INFO,
    )


@pytest.mark.parametrize(
    "text",
    [
        "name: x",
        "name: x\nsubordinate: false",
        "name: x\nprovides:\nrequires: {}\npeers:",  # empty sections
        "name: x\nprovides: {db: {interface: mysql}}",
        "name: x\nprovides: {db: {interface: mysql, scope: global, limit: 0}}",
        "name: x\nrequires: {db: {interface: mysql, limit: null}}",
        "name: x\nrequires: {db_admin: mysql-root}",
        "name: mysql-k8s\nprovides: {db-router: mysql}",
        "name: x\nsummary: ''\ndescription: anything\nseries: [jammy]",  # other keys are ignored
        "name: x\nsubordinate: true\nrequires: {host: {interface: juju-info, scope: container}}",
        "name: juju-x\nprovides: {juju-a: juju-b}",  # charms named juju-* may use juju-* names
    ],
)
def test_valid_shapes(text: str) -> None:
    meta = parse_metadata(text)
    assert meta.endpoints[-1] == JUJU_INFO


def test_a_subordinate_may_declare_juju_info_as_a_container_requirer() -> None:
    meta = parse_metadata(
        "name: x\nsubordinate: true\n"
        "requires: {juju-info: {interface: juju-info, scope: container}}"
    )
    # Declared, so no implicit provider of the same name beside it.
    assert [(e.name, e.role, e.implicit) for e in meta.endpoints] == [
        ("juju-info", Role.REQUIRER, False)
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "charm metadata must be a mapping with at least a name"),
        ("just text", "charm metadata must be a mapping with at least a name"),
        ("", "charm metadata must be a mapping with at least a name"),
        (
            "name: x\n  bad: [yaml",
            "charm metadata is not valid YAML: mapping values are not allowed here"
            " (line 2, column 6)",
        ),
        ("summary: no name", 'charm metadata has no "name"'),
        ("name: Bad", 'charm name "Bad" not valid'),
        ("name: 12", 'charm name "12" not valid'),
        ("name: foo-1", 'charm name "foo-1" not valid'),
        ("name: x\nsubordinate: yes-please", 'charm "x": "subordinate" must be true or false'),
        ("name: x\nsubordinate: 1", 'charm "x": "subordinate" must be true or false'),
        ("name: x\nsummary: [a]", 'charm "x": "summary" must be text'),
        ("name: x\nprovides: [a]", 'charm "x": "provides" must be a mapping of endpoints'),
        ("name: x\nrequires: mysql", 'charm "x": "requires" must be a mapping of endpoints'),
        ("name: x\npeers: 3", 'charm "x": "peers" must be a mapping of endpoints'),
        ("name: x\nprovides: {Bad: a}", 'charm "x": endpoint name "Bad" in provides not valid'),
        ("name: x\nprovides: {1: a}", 'charm "x": endpoint name "1" in provides not valid'),
        ("name: x\nrequires: {db-: a}", 'charm "x": endpoint name "db-" in requires not valid'),
        (
            "name: x\nrequires: {db: [mysql]}",
            'charm "x": requires.db must be an interface name or a mapping with "interface"',
        ),
        (
            "name: x\nrequires: {db: }",
            'charm "x": requires.db must be an interface name or a mapping with "interface"',
        ),
        (
            "name: x\nrequires: {db: {scope: container}}",
            'charm "x": requires.db has no "interface"',
        ),
        ("name: x\nrequires: {db: ''}", 'charm "x": requires.db has no "interface"'),
        (
            "name: x\nrequires: {db: {interface: 3}}",
            'charm "x": requires.db interface must be text',
        ),
        (
            "name: x\nprovides: {a: {interface: i, colour: red}}",
            'charm "x": unknown key "colour" in provides.a',
        ),
        (
            "name: x\npeers: {a: {interface: i, scope: wide}}",
            'charm "x": peers.a scope "wide" not valid: use global or container',
        ),
        (
            "name: x\nprovides: {a: {interface: i, limit: -1}}",
            'charm "x": provides.a limit "-1" must be a number >= 0',
        ),
        (
            "name: x\nprovides: {a: {interface: i, limit: true}}",
            'charm "x": provides.a limit "True" must be a number >= 0',
        ),
        (
            "name: x\nprovides: {a: {interface: i, limit: two}}",
            'charm "x": provides.a limit "two" must be a number >= 0',
        ),
        (
            "name: x\nprovides: {a: {interface: i, optional: 3}}",
            'charm "x": provides.a optional must be true or false',
        ),
        (
            "name: x\nprovides: {a: i}\nrequires: {a: j}",
            'charm "x" using a duplicated relation name: "a"',
        ),
        (
            "name: x\nrequires: {a: i}\npeers: {a: j}",
            'charm "x" using a duplicated relation name: "a"',
        ),
        ("name: x\nprovides: {juju: i}", 'charm "x" using a reserved relation name: "juju"'),
        (
            "name: x\npeers: {juju-ring: r}",
            'charm "x" using a reserved relation name: "juju-ring"',
        ),
        (
            "name: x\nprovides: {a: juju-thing}",
            'charm "x" using a reserved relation name: "juju-thing"',
        ),
        (
            "name: x\nprovides: {juju-info: juju-info}",
            'charm "x" using a reserved relation name: "juju-info"',
        ),
        (
            "name: x\nrequires: {juju-info: juju-info}",
            'charm "x" using a reserved relation name: "juju-info"',
        ),
        (  # the container exception is for subordinates only
            "name: x\nrequires: {juju-info: {interface: juju-info, scope: container}}",
            'charm "x" using a reserved relation name: "juju-info"',
        ),
        (  # and only for their container-scoped requirers
            "name: x\nsubordinate: true\n"
            "requires: {h: {interface: juju-info, scope: container}, juju-x: y}",
            'charm "x" using a reserved relation name: "juju-x"',
        ),
        (
            "name: x\nsubordinate: true\nrequires: {db: mysql}",
            'subordinate charm "x" lacks "requires" relation with container scope',
        ),
        (
            "name: x\nsubordinate: true\nprovides: {logs: {interface: l, scope: container}}",
            'subordinate charm "x" lacks "requires" relation with container scope',
        ),
    ],
)
def test_bad_metadata_names_the_charm_and_field(text: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        parse_metadata(text)
    assert str(caught.value) == message


def test_a_requirer_may_use_a_juju_interface() -> None:
    # Only *provided* interfaces are reserved (juju/charm meta.go).
    meta = parse_metadata("name: x\nrequires: {host: juju-info}")
    assert meta.endpoints[0].interface == "juju-info"


def test_metadata_over_one_mebibyte_is_refused() -> None:
    text = "name: x\n#" + "a" * (1024 * 1024)
    with pytest.raises(errors.Invalid) as caught:
        parse_metadata(text)
    assert str(caught.value) == "charm metadata is larger than 1 MiB"
    assert parse_metadata(text[: 1024 * 1024]).name == "x"


# -- more shapes: shorthand, implicit juju-info, the reserved-name exceptions ------------------


def test_an_interface_name_alone_is_a_global_unlimited_endpoint() -> None:
    meta = parse_metadata("name: wp\nrequires:\n  db: mysql\n")
    assert meta.endpoints == (
        Endpoint(name="db", role=Role.REQUIRER, interface="mysql"),
        JUJU_INFO,
    )
    assert meta.subordinate is False
    assert meta.summary == ""


def test_the_implicit_juju_info_provider_comes_last_and_once() -> None:
    meta = parse_metadata(
        "name: x\nsummary: '  one line  '\nprovides: {a: i}\nrequires: {b: j}\npeers: {c: k}"
    )
    assert [e.name for e in meta.endpoints] == ["a", "b", "c", "juju-info"]
    assert [e.implicit for e in meta.endpoints] == [False, False, False, True]
    assert meta.summary == "one line"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A subordinate's container-scoped requirer may use any juju-* name.
        (
            "name: x\nsubordinate: true\n"
            "requires: {juju-host: {interface: juju-x, scope: container}}",
            ["juju-host", "juju-info"],
        ),
        # A charm named juju-* may use reserved endpoint names and provide juju-* interfaces.
        ("name: juju-db\nprovides: {juju: juju-db}", ["juju", "juju-info"]),
        ("name: juju-db\npeers: {juju-ring: ring}", ["juju-ring", "juju-info"]),
        # Only provided interfaces are reserved: requirers and peers may use juju-* interfaces.
        ("name: x\npeers: {ring: juju-ring}", ["ring", "juju-info"]),
    ],
)
def test_reserved_name_exceptions(text: str, names: list[str]) -> None:
    assert [e.name for e in parse_metadata(text).endpoints] == names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("42", "charm metadata must be a mapping with at least a name"),
        ("name:", 'charm metadata has no "name"'),
        ("name: [x]", "charm name \"['x']\" not valid"),
        ("name: x\nsubordinate: 'true'", 'charm "x": "subordinate" must be true or false'),
        ("name: x\nsubordinate: null", 'charm "x": "subordinate" must be true or false'),
        ("name: x\npeers: [a, b]", 'charm "x": "peers" must be a mapping of endpoints'),
        ("name: x\nprovides: {a_: i}", 'charm "x": endpoint name "a_" in provides not valid'),
        ("name: x\npeers: {9a: i}", 'charm "x": endpoint name "9a" in peers not valid'),
        (
            "name: x\nrequires: {db: {interface: mysql, limit: 1.5}}",
            'charm "x": requires.db limit "1.5" must be a number >= 0',
        ),
        (
            "name: x\nrequires: {db: {interface: mysql, limit: false}}",
            'charm "x": requires.db limit "False" must be a number >= 0',
        ),
        (
            "name: x\nrequires: {db: {interface: mysql, optional: 'yes'}}",
            'charm "x": requires.db optional must be true or false',
        ),
        (
            "name: x\nrequires: {db: {interface: mysql, scope: Container}}",
            'charm "x": requires.db scope "Container" not valid: use global or container',
        ),
        (
            "name: x\nprovides: {db: {interface: mysql, zeta: 1, alpha: 2}}",
            'charm "x": unknown key "alpha" in provides.db',
        ),
        (
            "name: x\nprovides: {a: i}\npeers: {a: j}",
            'charm "x" using a duplicated relation name: "a"',
        ),
        (
            "name: x\nsubordinate: true\nrequires: {juju-host: juju-info}",
            'charm "x" using a reserved relation name: "juju-host"',
        ),
        (  # a subordinate's container-scoped *provider* gets no exemption
            "name: x\nsubordinate: true\n"
            "requires: {h: {interface: juju-info, scope: container}}\n"
            "provides: {p: {interface: juju-x, scope: container}}",
            'charm "x" using a reserved relation name: "juju-x"',
        ),
        (
            "name: x\nsubordinate: true",
            'subordinate charm "x" lacks "requires" relation with container scope',
        ),
        (
            "name: x\nsubordinate: true\npeers: {p: {interface: p, scope: container}}",
            'subordinate charm "x" lacks "requires" relation with container scope',
        ),
        ("name: x\nprovides: {a: [", "charm metadata is not valid YAML: "),
        ("name: x\n\tbad: tab", "charm metadata is not valid YAML: "),
    ],
)
def test_more_refusals(text: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        parse_metadata(text)
    if message.endswith(": "):
        assert str(caught.value).startswith(message)
    else:
        assert str(caught.value) == message


def test_the_size_limit_counts_bytes_not_characters() -> None:
    text = "name: x\n#" + "é" * (512 * 1024)  # 1 MiB + 9 bytes, in fewer characters
    with pytest.raises(errors.Invalid) as caught:
        parse_metadata(text)
    assert str(caught.value) == "charm metadata is larger than 1 MiB"


def test_deeply_nested_yaml_is_refused_as_invalid() -> None:
    text = "name: x\nextra: " + "[" * 3000 + "]" * 3000  # well under 1 MiB
    with pytest.raises(errors.Invalid):
        parse_metadata(text)


# -- application names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Foo", 'invalid application name "Foo", unexpected uppercase character'),
        (
            "foo-1",
            'invalid application name "foo-1", unexpected number(s) found after last hyphen',
        ),
        ("a_b", 'invalid application name "a_b", unexpected character _'),
        ("1db", 'application name "1db" not valid'),
        ("a b", 'invalid application name "a b", unexpected character  '),
    ],
)
def test_application_name_refusals_use_juju_messages(name: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        check_application_name(name)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ["foo-1a", "mysql-k8s", "wordpress", "a1-b2c"])
def test_valid_application_names(name: str) -> None:
    assert check_application_name(name) == name


def test_a_charm_name_follows_the_application_name_rules() -> None:
    with pytest.raises(errors.Invalid) as caught:
        parse_metadata("name: mysql-8")
    assert str(caught.value) == 'charm name "mysql-8" not valid'
    assert parse_metadata("name: mysql-k8s").name == "mysql-k8s"
