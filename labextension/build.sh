#!/usr/bin/env bash
# Build the Compute panel (TypeScript in src/) into compute_widgets/labextension/, the prebuilt
# extension the Python package ships (pyproject: hatch shared-data -> share/jupyter/labextensions).
#   labextension/build.sh          build (npm ci the first time; needs node >= 18 and the venv's jupyterlab)
#   labextension/build.sh --check  build, then fail if the result differs from what git holds
# Built against the installed jupyterlab's staging package (its shared-module versions), with
# @jupyterlab/builder called directly: `jupyter labextension build` now hands over to another tool.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc
core="$(python -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')"
rm -rf ../compute_widgets/labextension
npx build-labextension --core-path "$core" . >/dev/null
# the shared-module versions in the build come from this JupyterLab: .ci/run checks with the same
python -c 'import jupyterlab; print(jupyterlab.__version__)' > jupyterlab-version
if [ "${1:-}" = "--check" ]; then
  cd ..
  # The code chunks (static/<id>.<contenthash>.js, style.js) are content-hashed and the same
  # wherever the repo is checked out; the remoteEntry is not: webpack hashes the container
  # entry's identifier, which holds the build directory's absolute path, into its module id and
  # so into its file name (and package.json's _build.load). Those two are compared without it.
  out=compute_widgets/labextension
  changed="$(git diff --name-only -- "$out" labextension/jupyterlab-version \
              ":(exclude)$out/static/remoteEntry.*.js" ":(exclude)$out/package.json"
            git ls-files --others --exclude-standard -- "$out" | grep -v '/static/remoteEntry\.' || true)"
  if ! diff -q <(git show "HEAD:$out/package.json" | grep -v '"load": "static/remoteEntry') \
               <(grep -v '"load": "static/remoteEntry' "$out/package.json") >/dev/null; then
    changed="$changed $out/package.json"
  fi
  if [ -n "${changed// /}" ]; then
    echo "$changed"
    echo "compute_widgets/labextension/ differs from a build of labextension/src: run labextension/build.sh and commit the result" >&2
    exit 1
  fi
  echo "labextension: the shipped build matches its source (code chunks byte for byte)"
fi
