# pushd in a container: built with the tested scripts/package in the Swift image, run on Debian 12
# slim. No container engine exists on the project's build machines, so this file is untested there;
# scripts/package-check tests what it wraps.
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/package && mkdir /out && tar -xzf dist/pushd-*-linux-*.tar.gz -C /out && mv /out/pushd-* /out/pushd

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends libnghttp2-14 libsqlite3-0 zlib1g libstdc++6 libnats3.4 libhiredis0.14 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home-dir /var/lib/pushd --create-home pushd
COPY --from=build /out/pushd /opt/pushd
RUN sed -i 's|^listen: .*|listen: "0.0.0.0:8080"|' /opt/pushd/Config/pushd.yaml
USER pushd
EXPOSE 8080
HEALTHCHECK CMD curl -sf 127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/opt/pushd/bin/pushd"]
CMD ["serve", "--config", "/opt/pushd/Config/pushd.yaml", "--data", "/var/lib/pushd"]
