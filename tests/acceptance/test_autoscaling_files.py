"""The autoscaling manifests (deploy/kubernetes/autoscaling), checked without
a cluster: the HPA against the Kubernetes schemas, KEDA's objects against a
schema written from KEDA's documentation (tests/acceptance/schemas/keda.json:
kubernetes-validate ships no CRDs), the KEDA query run on a real database,
and the adapter rule on metrics Sentinel exports."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import yaml

from sentinel import metrics
from sentinel.settings import Settings
from tests.acceptance.test_deploy_files import KUBERNETES, MONITORING, k8s, metric_names

AUTOSCALING = KUBERNETES / "autoscaling"
KEDA_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "keda.json").read_text())


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((AUTOSCALING / name).read_text()) if d]


def _worker(kind: str) -> dict[str, Any]:
    """The worker fleet's object of this kind in deploy/kubernetes."""
    (found,) = [d for d in k8s(kind) if d["metadata"]["name"] == "sentinel-worker"]
    return found


def _keda(kind: str) -> dict[str, Any]:
    (found,) = [d for d in _documents("keda-scaledobject.yaml") if d["kind"] == kind]
    return found


def _k8s_validate(document: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import kubernetes_validate
        from kubernetes_validate import utils

    kubernetes_validate.validate(document, utils.latest_version(), strict=True)


def test_keda_objects_match_keda_s_schema() -> None:
    documents = _documents("keda-scaledobject.yaml")
    assert {d["kind"] for d in documents} == {"ScaledObject", "TriggerAuthentication"}
    for document in documents:
        jsonschema.validate(document, KEDA_SCHEMA)
    # The HPA that KEDA makes gets this behavior: the Kubernetes schema's say.
    scaled = _keda("ScaledObject")
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    _k8s_validate(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "keda-hpa-sentinel-worker"},
            "spec": {
                "scaleTargetRef": scaled["spec"]["scaleTargetRef"],
                "maxReplicas": scaled["spec"]["maxReplicaCount"],
                "behavior": behavior,
            },
        }
    )


def test_the_keda_schema_rejects_what_keda_would() -> None:
    scaled = _keda("ScaledObject")
    numeric = json.loads(json.dumps(scaled))
    numeric["spec"]["triggers"][0]["metadata"]["targetQueryValue"] = 4  # KEDA wants strings
    misspelt = json.loads(json.dumps(scaled))
    misspelt["spec"]["minReplicas"] = 1  # the HPA's name, not KEDA's
    no_query = json.loads(json.dumps(scaled))
    del no_query["spec"]["triggers"][0]["metadata"]["query"]
    for wrong in (numeric, misspelt, no_query):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, KEDA_SCHEMA)


def test_both_autoscalers_scale_the_worker_deployment_and_never_to_zero() -> None:
    deployment = _worker("Deployment")
    scaled = _keda("ScaledObject")["spec"]
    (hpa,) = _documents("hpa-prometheus.yaml")
    _k8s_validate(hpa)
    for target, low in (
        (scaled["scaleTargetRef"], scaled["minReplicaCount"]),
        (hpa["spec"]["scaleTargetRef"], hpa["spec"]["minReplicas"]),
    ):
        assert target["name"] == deployment["metadata"]["name"]
        assert target.get("kind", "Deployment") == "Deployment"
        assert low >= 1, "hybrid workers plan: with none, nothing is ever queued"
    # One worker per SENTINEL_MAX_CONCURRENT_RUNS runs wanting a slot.
    capacity = Settings().max_concurrent_runs
    assert float(scaled["triggers"][0]["metadata"]["targetQueryValue"]) == capacity
    assert float(hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"]) == capacity
    # Scale-in one pod at a time, slowly: each drains, and the PDB bounds the rest.
    for behavior in (
        scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
        hpa["spec"]["behavior"],
    ):
        down = behavior["scaleDown"]
        assert down["stabilizationWindowSeconds"] >= 60
        assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > Settings().drain_grace_seconds
    assert _worker("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_keda_reads_the_workers_database_secret() -> None:
    (ref,) = _keda("TriggerAuthentication")["spec"]["secretTargetRef"]
    container = _worker("Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    secret = env["SENTINEL_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["parameter"] == "connection"
    assert (ref["name"], ref["key"]) == (secret["name"], secret["key"])
    trigger = _keda("ScaledObject")["spec"]["triggers"][0]
    assert (
        trigger["authenticationRef"]["name"] == _keda("TriggerAuthentication")["metadata"]["name"]
    )


def test_the_keda_query_counts_the_runs_that_want_a_slot(db_url: str) -> None:
    query = _keda("ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    now = datetime.now(UTC)
    rows = [  # (status, not_before): due queued and running count; the rest do not
        ("queued", now - timedelta(seconds=5)),
        ("queued", now - timedelta(minutes=5)),
        ("queued", now + timedelta(minutes=5)),  # backing off: not yet due
        ("running", now),
        ("succeeded", now),
        ("failed", now),
        ("dead", now),
    ]
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i, (status, not_before) in enumerate(rows):
            conn.execute(
                "WITH s AS (INSERT INTO stream (key) VALUES (%s) RETURNING id) "
                "INSERT INTO run (stream_id, window_start, status, not_before) "
                "SELECT id, now(), %s, %s FROM s",
                [f"scale/{i}", status, not_before],
            )
        row = conn.execute(query).fetchone()
    assert row is not None and isinstance(row[0], int) and row[0] == 3


def test_the_adapter_rule_serves_the_hpa_s_metric_from_sentinel_metrics() -> None:
    exported = {s.name for family in metrics.REGISTRY.collect() for s in family.samples}
    document = yaml.safe_load((MONITORING / "prometheus-adapter.yaml").read_text())
    (rule,) = document["externalRules"]
    (hpa,) = _documents("hpa-prometheus.yaml")
    assert rule["name"]["as"] == hpa["spec"]["metrics"][0]["external"]["metric"]["name"]
    used = metric_names(rule["metricsQuery"]) | metric_names(rule["seriesQuery"])
    assert used == {"sentinel_queue_depth", "sentinel_runs_in_hand"} <= exported
