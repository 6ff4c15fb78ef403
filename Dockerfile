# slotbandit service image: gunicorn, non-root, health check. Expects an external Cassandra:
#   docker build -t slotbandit .
#   docker run -p 8000:8000 -e CASSANDRA_HOSTS=cassandra.internal -e SLOTBANDIT_SECRET=... slotbandit
# Apply the schema once: docker run --rm -e CASSANDRA_HOSTS=... slotbandit slotbandit schema apply
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SLOTBANDIT_PORT=8000

WORKDIR /srv/slotbandit
COPY setup.cfg pyproject.toml README.md ./
COPY app ./app
COPY bandit ./bandit
COPY cql ./cql
RUN pip install --no-compile ".[kafka]" \
    && useradd --system --uid 10001 --home-dir /srv/slotbandit slotbandit \
    && mkdir -p .data/spool && chown slotbandit .data .data/spool

USER slotbandit
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SLOTBANDIT_PORT', '8000'), timeout=2)"

CMD ["sh", "-c", "exec slotbandit serve --host 0.0.0.0 --port \"$SLOTBANDIT_PORT\" --workers \"${WEB_CONCURRENCY:-2}\""]
