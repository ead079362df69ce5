#!/usr/bin/env bash
# Install the production build (npm run build) into PREFIX (default /opt/pagos-hotspot):
#   PREFIX/dist/            the compiled service (dist/server.js, source map, portal assets)
#   PREFIX/web/dist/        the panel, when it was built
#   PREFIX/migrations/      SQL migrations (applied at start-up under an advisory lock)
#   PREFIX/node_modules/    production dependencies only (npm ci --omit=dev)
#   PREFIX/.env             from .env.example the first time (mode 600; never overwritten)
#   PREFIX/pagos-hotspot.service  the systemd unit with this PREFIX and this node
#
# Usage: deploy/install.sh [--system] [PREFIX]
#   --system  also (as root) create the pagos-hotspot user, give it PREFIX, install the unit in
#             /etc/systemd/system and run systemctl daemon-reload (then: systemctl enable --now pagos-hotspot).
# DIST=<dir>: take the build from there instead of ./dist.
# NODE_MODULES_FROM=<dir>: link an already installed node_modules instead of running npm ci (offline
# machines, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
SYSTEM=0
if [[ "${1:-}" == "--system" ]]; then SYSTEM=1; shift; fi
PREFIX=${1:-/opt/pagos-hotspot}
NODE=${NODE:-$(command -v node)}

DIST=${DIST:-$SRC/dist}
if [[ ! -f "$DIST/server.js" ]]; then
  echo "Falta $DIST/server.js: ejecute primero npm run build" >&2
  exit 1
fi
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

rm -rf "$PREFIX/dist" "$PREFIX/migrations"
cp -R "$DIST" "$PREFIX/dist"
cp -R migrations "$PREFIX/migrations"
if [[ -d web/dist ]]; then
  mkdir -p "$PREFIX/web"
  rm -rf "$PREFIX/web/dist"
  cp -R web/dist "$PREFIX/web/dist"
fi
cp package.json package-lock.json .env.example "$PREFIX/"
mkdir -p "$PREFIX/data"

if [[ -n "${NODE_MODULES_FROM:-}" ]]; then
  rm -rf "$PREFIX/node_modules"
  ln -s "$(cd "$NODE_MODULES_FROM" && pwd)" "$PREFIX/node_modules"
else
  (cd "$PREFIX" && npm ci --omit=dev --no-audit --no-fund)
fi

if [[ ! -f "$PREFIX/.env" ]]; then
  (umask 077 && cp .env.example "$PREFIX/.env")
  echo "Creado $PREFIX/.env a partir de .env.example: complete los valores obligatorios."
fi

sed -e "s#@PREFIX@#$PREFIX#g" -e "s#@NODE@#$NODE#g" "$SRC/deploy/pagos-hotspot.service" > "$PREFIX/pagos-hotspot.service"

if [[ $SYSTEM == 1 ]]; then
  id -u pagos-hotspot >/dev/null 2>&1 || useradd --system --home-dir "$PREFIX" --shell /usr/sbin/nologin pagos-hotspot
  chown -R pagos-hotspot:pagos-hotspot "$PREFIX/data"
  chown pagos-hotspot:pagos-hotspot "$PREFIX/.env"
  install -m 644 "$PREFIX/pagos-hotspot.service" /etc/systemd/system/pagos-hotspot.service
  systemctl daemon-reload
  echo "Instalado. Active con: systemctl enable --now pagos-hotspot"
else
  echo "Instalado en $PREFIX. Unidad systemd: $PREFIX/pagos-hotspot.service (o deploy/install.sh --system)"
fi
