# The agent image: nothing but the static agent binary. It is never the
# container that runs the agent: the Deployment's init container copies the
# binary out of it (`--copy-to`) into the site's Drupal container, which has
# drush, PHP and the CA certificates the agent's TLS uses.
#
# Build the binary first, from the workspace root:
#   RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile agent -p site-status-agent --target x86_64-unknown-linux-gnu
# (`--profile agent`: optimized for size, with LTO; about 5.7 MB stripped.)
# then the image, with the workspace root as context:
#   docker build -f deploy/agent.Dockerfile -t site-status-agent .
FROM scratch
COPY target/x86_64-unknown-linux-gnu/agent/site-status-agent /site-status-agent
# Any non-root user: scratch has no /etc/passwd, so numeric.
USER 65532:65532
ENTRYPOINT ["/site-status-agent"]
