# tagwatch service image: `docker build -t tagwatch .` then `docker run tagwatch` (runs `tagwatch run`).
# Stage 1 builds a virtualenv with uv from the lock file; stage 2 copies only that venv onto a
# slim Python and runs it as an unprivileged user.

# Every image is pinned by digest (`tagwatch lint Dockerfile deploy/` passes, tested): the tag says
# what it is, the digest what we tested. Bump both with `tagwatch pin Dockerfile --update --write`.
FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b AS build
COPY --from=ghcr.io/astral-sh/uv:0.9.18@sha256:5713fa8217f92b80223bc83aac7db36ec80a84437dbc0d04bbc659cae030d8c9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/tagwatch
WORKDIR /src
# Dependencies first (cached while only the code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY tagwatch ./tagwatch
COPY migrations ./migrations
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b
RUN groupadd --system --gid 10001 tagwatch \
    && useradd --system --uid 10001 --gid tagwatch --home-dir /var/lib/tagwatch \
       --create-home --shell /usr/sbin/nologin tagwatch
COPY --from=build /opt/tagwatch /opt/tagwatch
ENV PATH=/opt/tagwatch/bin:$PATH PYTHONUNBUFFERED=1 \
    TAGWATCH_LISTEN=0.0.0.0:8080 TAGWATCH_LOG__FORMAT=json
WORKDIR /var/lib/tagwatch
USER 10001:10001
EXPOSE 8080
# uvicorn handles SIGTERM: stop accepting, finish in-flight checks/deliveries, release leases.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tagwatch", "run"]
