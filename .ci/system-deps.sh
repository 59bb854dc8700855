#!/usr/bin/env bash
# System packages the tests need, from Debian's archive. One list shared by .ci/run and
# .github/workflows/ci.yml, so a fresh machine and a GitHub runner install the same things.
#   postgresql               MLflow tracking server on PostgreSQL (team set-up test)
#   prometheus               promtool for rule tests; the server for the canary's live metrics
#   wrk                      drives the serving benchmark
#   buildah mmdebstrap       build and run the serving image without a Docker engine
#   openjdk-17-jre-headless  Java for the Spark batch-scoring engine
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
have_cmd promtool && have_cmd prometheus || need+=(prometheus)
have_cmd wrk || need+=(wrk)
have_cmd buildah || need+=(buildah)
have_cmd mmdebstrap || need+=(mmdebstrap)
have_cmd java || need+=(openjdk-17-jre-headless)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
