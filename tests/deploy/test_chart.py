"""The Helm chart rendered offline by Helm's library, linted, validated against Kubernetes' schemas, and read back."""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed
import pytest

from jinqiao.kit import catalog
from tests.deploy.chart_support import (
    CHART,
    NAMESPACE,
    Rendered,
    chart_values_script,
    object_name,
    production_values,
    render,
)

# The oldest Kubernetes the chart admits (Chart.yaml kubeVersion) and a current one, both bundled by
# kubernetes-validate: every rendered object must be valid in each.
KUBERNETES_VERSIONS = ("1.27.0", "1.35.0")
# cert-manager's CRDs are not among Kubernetes' schemas: Certificates are checked field by field below instead.
NOT_IN_KUBERNETES_SCHEMAS = {"Certificate"}
CERT_MANAGER_USAGES = {"digital signature", "key encipherment", "server auth", "client auth"}
ENTRIES = {e.name: e for e in catalog.parse((CHART.parents[2] / "services" / "catalog.toml").read_text("utf-8"))}
GRPC_SERVICES = [name for name, e in ENTRIES.items() if e.grpc_port is not None]
# deploy/county-systems.md: the services whose public gRPC port county systems call from outside.
COUNTY_FACING = {"registry", "organizations", "insights"}
# Variables whose literal value would be a secret: they may only come from a secretKeyRef.
SECRET_VARIABLES = ("PASSWORD", "PII_KEYS", "BLIND_INDEX_KEY", "DATABASE_URL", "LIMIT_STORAGE")


@pytest.fixture(scope="module", params=["default", "production"])
def rendered(request: pytest.FixtureRequest) -> Rendered:
    """The chart with its own values, and with the CI file of a province deployment."""
    return render(production_values() if request.param == "production" else None)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in _container(deployment)["env"]}


def _component(selector: dict[str, Any]) -> str:
    component: str = selector["matchLabels"]["app.kubernetes.io/component"]
    return component


def test_values_list_every_catalogued_process_as_the_generator_writes_it() -> None:
    """values.yaml's services table is what scripts/chart_values.py derives from services/catalog.toml."""
    script = chart_values_script()
    text = script.VALUES.read_text(encoding="utf-8")
    assert script.rewrite(text) == text, "run .venv/bin/python scripts/chart_values.py"
    with helm_python.Chart.load(CHART) as chart:
        assert set(chart.values["services"]) == set(ENTRIES)


@pytest.mark.parametrize("values", ["default", "production"])
def test_chart_lints_clean_in_strict_mode(values: str) -> None:
    """Helm's linter (warnings as errors) finds nothing, with either values file."""
    report = helm_python.lint(CHART, production_values() if values == "production" else None, strict=True,
                              namespace=NAMESPACE)
    findings = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert findings == []


def test_every_object_is_valid_against_the_kubernetes_schemas(rendered: Rendered) -> None:
    """Strict validation (unknown fields refused) in the oldest admitted and a current Kubernetes."""
    checked = 0
    for obj in rendered.objects:
        if obj["kind"] in NOT_IN_KUBERNETES_SCHEMAS:
            continue
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked > 0


def test_the_validator_refuses_an_invalid_object() -> None:
    """The schema check can fail: a Deployment port given as a word is refused."""
    deployment = render().one("Deployment", object_name("registry"))
    _container(deployment)["ports"][0]["containerPort"] = "seventeen"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_certificates_name_each_process_for_mutual_tls() -> None:
    """cert-manager Certificates (checked by hand): one per process, its Service's DNS names, server and client use."""
    certificates = render().of_kind("Certificate")
    assert set(certificates) == {object_name(name) for name in ENTRIES}
    for name, cert in certificates.items():
        assert cert["apiVersion"] == "cert-manager.io/v1"
        spec = cert["spec"]
        assert spec["secretName"] == f"{name}-tls"
        assert f"{name}.{NAMESPACE}.svc" in spec["dnsNames"]
        assert {"server auth", "client auth"} <= set(spec["usages"]) <= CERT_MANAGER_USAGES
        assert spec["issuerRef"]["name"]
    # Without cert-manager the operator's secrets are mounted, and no Certificate is rendered.
    assert render(production_values()).of_kind("Certificate") == {}


def test_every_process_has_deployment_service_autoscaler_budget_probes_and_resources(rendered: Rendered) -> None:
    """Each catalogued process gets the full set, running its catalogued server module from the one image."""
    for name, entry in ENTRIES.items():
        deployment = rendered.one("Deployment", object_name(name))
        container = _container(deployment)
        assert container["command"] == ["python", "-m", entry.server]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] in {"/healthz", "/readyz"}
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        probe_port = "metrics" if entry.grpc_port is not None else "http"
        assert container["readinessProbe"]["httpGet"]["port"] == probe_port
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        if entry.grpc_port is not None:
            assert ports["grpc"] == entry.grpc_port and ports["metrics"] == entry.metrics_port
            assert "grpc-internal" in ports
        else:
            assert ports == {"http": entry.http_port}
        assert rendered.one("Service", object_name(name))["spec"]["selector"] == \
            deployment["spec"]["selector"]["matchLabels"]
        assert rendered.one("PodDisruptionBudget", object_name(name))["spec"]["selector"] == \
            deployment["spec"]["selector"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["topologySpreadConstraints"]
    autoscalers = rendered.of_kind("HorizontalPodAutoscaler")
    for name in ENTRIES:
        deployment = rendered.one("Deployment", object_name(name))
        # Either an autoscaler owns the replica count, or the Deployment states it: never both, never neither.
        assert (object_name(name) in autoscalers) != ("replicas" in deployment["spec"])


def test_no_secret_is_rendered_and_secret_variables_come_from_secret_references(rendered: Rendered) -> None:
    """The chart references secrets the operator made; it embeds none, and no secret variable has a literal."""
    assert rendered.of_kind("Secret") == {}
    assert rendered.of_kind("ConfigMap") == {}
    pods = [d["spec"]["template"]["spec"] for d in rendered.of_kind("Deployment").values()]
    pods += [j["spec"]["template"]["spec"] for j in rendered.of_kind("Job").values()]
    for pod in pods:
        for item in pod["containers"][0]["env"]:
            if any(word in item["name"] for word in SECRET_VARIABLES):
                literal = item.get("value", "")
                # The DSN is composed in the pod from the password variable; it holds no password itself.
                assert "secretKeyRef" in item.get("valueFrom", {}) or "$(JINQIAO_" in literal, item["name"]


def test_keys_reach_only_the_processes_whose_catalogue_entry_names_them(rendered: Rendered) -> None:
    """PII keyring, blind-index key and JWT signing key follow catalog `keys`, as the embedded runner hands them."""
    for name, entry in ENTRIES.items():
        deployment = rendered.one("Deployment", object_name(name))
        env = _env(deployment)
        assert ("JINQIAO_PII_KEYS" in env) == ("pii" in entry.keys)
        assert ("JINQIAO_BLIND_INDEX_KEY" in env) == ("blind_index" in entry.keys)
        assert ("JINQIAO_JWT_PRIVATE_KEY_FILE" in env) == ("jwt_signing" in entry.keys)
        jwt = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "jwt")
        assert ("private.pem" in {i["path"] for i in jwt["secret"]["items"]}) == ("jwt_signing" in entry.keys)
        assert ("JINQIAO_DATABASE_URL" in env) == entry.database


def test_processes_are_wired_to_the_broker_cluster_and_each_other_over_mutual_tls() -> None:
    """Every NATS node in one variable, R3 streams, and the gateway's targets on the services' internal ports."""
    values = production_values()
    rendered = render(values)
    for name in ENTRIES:
        env = _env(rendered.one("Deployment", object_name(name)))
        assert env["JINQIAO_NATS_URL"]["value"] == ",".join(values["nats"]["urls"])
        assert env["JINQIAO_NATS_STREAM_REPLICAS"]["value"] == "3"
        assert env["JINQIAO_NATS_USER"]["value"] == name
        assert {"JINQIAO_GRPC_TLS_CERT_FILE", "JINQIAO_GRPC_TLS_KEY_FILE", "JINQIAO_GRPC_TLS_CA_FILE"} <= set(env)
    gateway = _env(rendered.one("Deployment", object_name("gateway")))
    for service in GRPC_SERVICES:
        entry = ENTRIES[service]
        internal = _env(rendered.one("Deployment", object_name(service)))["JINQIAO_GRPC_INTERNAL_PORT"]["value"]
        assert internal != str(entry.grpc_port)
        assert gateway[f"JINQIAO_{entry.env_name}_TARGET"]["value"] == \
            f"{object_name(service)}.{NAMESPACE}.svc:{internal}"


def test_network_policies_deny_by_default_and_allow_only_the_architectures_paths(rendered: Rendered) -> None:
    """Pod-to-pod paths are exactly gateway → each service's internal port; no service reaches another."""
    policies = rendered.of_kind("NetworkPolicy")
    deny = policies[object_name("default-deny")]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    internal_port = {s: int(_env(rendered.one("Deployment", object_name(s)))["JINQIAO_GRPC_INTERNAL_PORT"]["value"])
                     for s in GRPC_SERVICES}
    # The architecture: the gateway's clients hold one channel per catalogued gRPC service (gateway/settings.py);
    # services exchange events through NATS and open no gRPC channel to each other.
    expected = {("gateway", s.name, internal_port[s.name]) for s in catalog.grpc_services()}
    allowed_in: set[tuple[str, str, int]] = set()
    allowed_out: set[tuple[str, str, int]] = set()
    for name in ENTRIES:
        spec = policies[object_name(name)]["spec"]
        assert _component(spec["podSelector"]) == name
        for rule in spec.get("ingress") or []:
            for peer in rule["from"]:
                if set(peer) == {"podSelector"}:
                    allowed_in |= {(_component(peer["podSelector"]), name, p["port"]) for p in rule["ports"]}
        for rule in spec.get("egress") or []:
            for peer in rule["to"]:
                if set(peer) == {"podSelector"}:
                    allowed_out |= {(name, _component(peer["podSelector"]), p["port"]) for p in rule["ports"]}
    assert allowed_in == expected
    assert allowed_out == expected
    assert not any(src == "registry" and dst == "insights" for src, dst, _ in allowed_in | allowed_out)


def test_only_the_county_facing_public_ports_and_the_gateway_are_open_to_the_ingress(rendered: Rendered) -> None:
    """The ingress peers reach the gateway's HTTP port and registry/organizations/insights' public gRPC ports only."""
    policies = rendered.of_kind("NetworkPolicy")
    reached: dict[str, set[int]] = {}
    for name in ENTRIES:
        for rule in policies[object_name(name)]["spec"].get("ingress") or []:
            peers = rule["from"]
            # Rules from this release's own pods and from monitoring are checked elsewhere; the rest is the ingress.
            if any("podSelector" in p and "namespaceSelector" not in p for p in peers):
                continue
            if any(p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                   == "monitoring" for p in peers):
                continue
            reached.setdefault(name, set()).update(p["port"] for p in rule["ports"])
    public = {name: {ENTRIES[name].grpc_port} for name in COUNTY_FACING}
    assert reached == {**public, "gateway": {ENTRIES["gateway"].http_port}}


def test_every_process_may_reach_nats_and_database_processes_postgresql(rendered: Rendered) -> None:
    """Egress to the broker's client port for all, to PostgreSQL for processes with a database; DNS for every pod."""
    policies = rendered.of_kind("NetworkPolicy")
    for name, entry in ENTRIES.items():
        ports = {p["port"] for rule in policies[object_name(name)]["spec"]["egress"] for p in rule.get("ports", [])}
        assert 4222 in ports
        assert (5432 in ports) == entry.database
    dns = policies[object_name("dns")]["spec"]
    assert {p["port"] for p in dns["egress"][0]["ports"]} == {53}


def test_the_migrate_hook_runs_before_install_and_upgrade_with_each_databases_password(rendered: Rendered) -> None:
    """`jinqiao migrate` as a pre-install/pre-upgrade Job, given the admin DSN and every app role's password."""
    job = rendered.one("Job", object_name("migrate"))
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["jinqiao", "migrate"]
    env = {item["name"]: item for item in container["env"]}
    assert "secretKeyRef" in env["JINQIAO_ADMIN_DATABASE_URL"]["valueFrom"]
    wanted = {f"JINQIAO_{e.env_name}_DB_PASSWORD" for e in ENTRIES.values() if e.database}
    assert wanted <= set(env)


@pytest.mark.parametrize("bad", [
    {"defaults": {"replicas": "three"}},
    {"services": {"registry": {"replicas": "three"}}},
    {"nats": {"streamReplicas": 7}},
    {"postgresql": {"sslmode": "sometimes"}},
    {"services": {"registry": {"replica": 3}}},
])
def test_a_bad_value_fails_schema_validation_at_render(bad: dict[str, Any]) -> None:
    """values.schema.json refuses wrong types, out-of-range numbers and misspelt keys before anything renders."""
    with pytest.raises(helm_python.HelmValuesError):
        render(bad)
