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
  if ! git diff --quiet -- compute_widgets/labextension labextension/jupyterlab-version \
     || [ -n "$(git ls-files --others --exclude-standard -- compute_widgets/labextension)" ]; then
    git status --short -- compute_widgets/labextension
    echo "compute_widgets/labextension/ differs from a build of labextension/src: run labextension/build.sh and commit the result" >&2
    exit 1
  fi
  echo "labextension: the shipped build matches its source"
fi
