# syntax=docker/dockerfile:1
# A platform MCP server as a container: built in one stage, run as a non-root user in a
# slim one. Build another server of this workspace with --build-arg PACKAGE=<package>
# (its binary has the package's name). Every platform server has the same command line:
# `serve`, `health`, `config`, `inspect`, `version`.
#
#   docker build -t platform-mcp .
#   docker run -p 8000:8000 -e PLATFORM_TRANSPORT__ALLOWED_HOSTS='["localhost:8000"]' platform-mcp

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG PACKAGE=quickstart
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p "${PACKAGE}" \
 && install -D "target/release/${PACKAGE}" /out/server

FROM debian:bookworm-slim
# CA roots for the identity provider's HTTPS (JWKS, introspection) and rediss://.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin platform
COPY --from=build /out/server /usr/local/bin/server
USER 10001:10001
# Streamable HTTP on every interface of the container; metrics on their own port. Hosts
# clients use to reach the server must be allowed: PLATFORM_TRANSPORT__ALLOWED_HOSTS.
ENV PLATFORM_TRANSPORT__KIND=http \
    PLATFORM_TRANSPORT__BIND=0.0.0.0:8000 \
    PLATFORM_TELEMETRY__METRICS__BIND=0.0.0.0:9464 \
    PLATFORM_TELEMETRY__FORMAT=json
EXPOSE 8000 9464
# `health` GETs /healthz on the configured bind address; no HTTP client needed in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/server", "health"]
# SIGTERM: /readyz turns 503 for the drain delay (5 s), then in-flight requests get 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/server"]
CMD ["serve", "--transport", "http"]
