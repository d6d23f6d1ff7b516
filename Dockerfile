# rasad in a container: `docker build -t rasad .`, then see docker-compose.yml.
#
# Stage 1 builds the dependencies alone (a layer that stays cached until Cargo.toml or
# Cargo.lock change), then rasad itself. Stage 2 is a slim Debian with the binary, CA
# certificates and a non-root user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# sqlx builds SQLite and aws-lc-rs builds its C code: both need only the C compiler of the image.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/matcher.rs \
    && cargo build --release --locked \
    && rm -rf src benches
COPY src src
COPY benches benches
# The stub sources are older than the real ones, but touch makes sure cargo rebuilds rasad.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin rasad

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rasad \
    && useradd --system --uid 10001 --gid rasad --home-dir /var/lib/rasad --shell /usr/sbin/nologin rasad \
    && mkdir -p /etc/rasad /var/lib/rasad \
    && chown rasad:rasad /var/lib/rasad
COPY --from=build /src/target/release/rasad /usr/local/bin/rasad
COPY config/rasad.toml /etc/rasad/rasad.toml

# The config (mount your own rasad.toml) and the state (seen stories, outbox) are volumes.
# In the container the config must say `listen = "0.0.0.0:9797"` under [daemon] for the port to
# be reachable from outside; `rasad healthcheck` then asks 127.0.0.1:9797.
VOLUME ["/etc/rasad", "/var/lib/rasad"]
ENV RASAD_CONFIG=/etc/rasad/rasad.toml \
    STATE_DIRECTORY=/var/lib/rasad \
    RUST_LOG=info
USER rasad:rasad
WORKDIR /var/lib/rasad
EXPOSE 9797
# SIGTERM: rasad stops polling, finishes in-flight sends within 10 s, and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["rasad", "healthcheck"]
ENTRYPOINT ["rasad"]
CMD ["run", "--log-format", "json"]
