# dkimrelay's container image: a static binary on distroless/static, run as
# the non-root user 65532, its config and data on the /var/lib/dkimrelay
# volume. docs/install.md shows the first run; contrib/docker-compose.mastodon.yml
# adds it to Mastodon's docker-compose.yml.
#
#   docker build -t dkimrelay --build-arg VERSION=$(git describe --tags --always) .

FROM docker.io/library/golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces go-smtp with the copy in third_party/ (see its README.md):
# the module graph needs that copy's go.mod.
COPY third_party/ third_party/
RUN go mod download
COPY . .
ARG VERSION=dev
# The same steps scripts/test-container.sh runs in CI.
RUN VERSION=$VERSION sh scripts/container-rootfs.sh /rootfs

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /rootfs/usr/bin/dkimrelay /usr/bin/dkimrelay
COPY --from=build --chown=65532:65532 /rootfs/var/lib/dkimrelay /var/lib/dkimrelay
USER 65532:65532
ENV DKIMRELAY_CONFIG=/var/lib/dkimrelay/dkimrelay.toml
WORKDIR /var/lib/dkimrelay
VOLUME ["/var/lib/dkimrelay"]
# Submission (STARTTLS, implicit TLS) and metrics.listen (/metrics, /healthz).
EXPOSE 587 465 9187
# No shell or curl in the image: the binary asks its own /healthz
# (metrics.listen must be set; `init --metrics-listen` sets it).
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["/usr/bin/dkimrelay", "healthcheck"]
ENTRYPOINT ["/usr/bin/dkimrelay"]
CMD ["serve"]
