#!/usr/bin/env bash
# Builds an installation bundle for a site with no package registry at all:
#   deploy/offline-bundle.sh [out-dir]
# Run it on a machine of the same OS and CPU architecture as the target (native addons:
# better-sqlite3, LanceDB, onnxruntime, node-llama-cpp, sharp) after `npm install` succeeded.
# The bundle holds the committed sources, the built web app and CLI bundle, the production
# node_modules (dev dependencies pruned) and the Node.js binary that built it; on the target:
#   tar xzf private-kb-*.tar.gz && cd private-kb-* && ./kb serve
# No model weights are included: place them in the models folder (README, "Embedding models").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build/offline}"
version="$(node -p "require('$root/package.json').version")"
rev="$(git -C "$root" rev-parse --short HEAD)"
name="private-kb-$version-$rev-$(node -p 'process.platform + "-" + process.arch')"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dest="$stage/$name"
mkdir -p "$dest" "$out"

# Committed files only (never the data folder, credentials or local models).
git -C "$root" archive --format=tar HEAD | tar -x -C "$dest"
[ -d "$root/src/web/dist" ] || { echo "src/web/dist is missing: run npm install (or npm run build:web) first" >&2; exit 1; }
cp -a "$root/src/web/dist" "$dest/src/web/dist"
cp -a "$root/node_modules" "$dest/node_modules"
# Pruning needs no registry: it only deletes what the lockfile marks as dev-only.
(cd "$dest" && npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts >/dev/null)
# The CLI bundle is built here, after the archive set the sources' times, so `kb` runs it.
(cd "$dest" && node src/cli/bundle.mjs >/dev/null)
mkdir -p "$dest/runtime"
cp "$(command -v node)" "$dest/runtime/node"
cat > "$dest/kb" <<'SH'
#!/bin/sh
# `kb` with the Node.js binary shipped in this bundle.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/runtime/node" "$here/bin/kb.js" "$@"
SH
chmod +x "$dest/kb"
echo "node $(node --version), built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $rev" > "$dest/BUNDLE.txt"
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
