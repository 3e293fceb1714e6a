"""The launcher's own behaviour, without starting the platform: what an operator sees when
something is missing, and the small rules it applies (masking, database URLs)."""
import os
import subprocess
import sys
import time

from deploy.run import ROOT, database_urls, mask_uri


def launch(*args, **env):
    """Run ``python -m deploy.run`` as ``make run`` would; returns (exit code, output, seconds)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "deploy.run", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def test_unreachable_broker_fails_fast_with_a_hint(tmp_path):
    code, output, seconds = launch("--data-dir", str(tmp_path),
                                   AMQP_URI="amqp://guest:s3cret@127.0.0.1:1/")
    assert code != 0
    assert seconds < 10
    assert "amqp://guest:***@127.0.0.1:1/" in output
    assert "s3cret" not in output  # the password is masked
    assert "rabbitmq-server -detached" in output
    assert "docker run" in output and "rabbitmq:3-management" in output
    assert "Traceback" not in output
    assert not list(tmp_path.iterdir())  # nothing was migrated or loaded


def test_production_refuses_demo_data(tmp_path):
    code, output, _ = launch("--demo", "--data-dir", str(tmp_path), HEYUN_ENV="production")
    assert code != 0
    assert "refusing to load demo data" in output
    assert "Traceback" not in output


def test_mask_uri():
    assert mask_uri("amqp://guest:guest@127.0.0.1:5672/") == "amqp://guest:***@127.0.0.1:5672/"
    assert mask_uri("postgresql://postgres@db:5432/x") == "postgresql://postgres@db:5432/x"
    assert mask_uri("sqlite:////tmp/registry.db") == "sqlite:////tmp/registry.db"


def test_database_urls_prefer_the_environment(tmp_path):
    pg = "postgresql://postgres@127.0.0.1:5432/heyun_registry"
    urls = database_urls(["registry", "gateway"], tmp_path, {"REGISTRY_DATABASE_URL": pg})
    assert urls == {"registry": pg, "gateway": f"sqlite:///{tmp_path.resolve()}/gateway.db"}
