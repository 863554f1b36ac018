#!/usr/bin/env bash
# Runs the operator on this machine against the local real parts: a kube-apiserver and the moto AWS
# emulator started on 127.0.0.1, the CRD and the Oscar example applied, then the operator in the
# foreground (Ctrl-C stops it; `python -m tests.infra down` stops the parts).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m tests.infra up kube moto
# shellcheck disable=SC1090
source "${XDG_CACHE_HOME:-$HOME/.cache}/appmod/dev/env"
kubectl apply -f crds/
kubectl wait --for=condition=Established --timeout=60s crd/appmodernizations.appmod.io
kubectl create namespace shop --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n shop -f examples/oscar.yaml
echo "operator starting; in another shell: source ~/.cache/appmod/dev/env && kubectl get appmods -n shop"
exec appmod-operator --liveness http://127.0.0.1:8080/healthz
