#!/usr/bin/env bash
# Makes a Docker engine answer on /var/run/docker.sock (CI machines, as root):
# installs Debian's docker.io when dockerd is missing, starts dockerd in the
# background unless one answers already, and waits for it. Idempotent.
set -euo pipefail

answers() { [ -S /var/run/docker.sock ] && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# busybox-static: the tests assemble their image's root file system from it.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if answers; then echo "docker engine already answering"; exit 0; fi
log=${DOCKERD_LOG:-/tmp/hodei-dockerd.log}
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do answers && break; sleep 1; done
if ! answers; then echo "dockerd did not answer within 60 s; its log:" >&2; tail -50 "$log" >&2; exit 1; fi
echo "docker engine $(docker version --format '{{.Server.Version}}') on /var/run/docker.sock"
