#!/usr/bin/env bash
# Refresh the JavaScript the static book needs offline, at pinned versions, from the npm registry:
#   - @jupyter-widgets/html-manager: dist/embed.js renders ipywidgets 8 without require.js or a CDN;
#   - MathJax 3: tex-chtml.js and its CHTML fonts.
# The files land in book/_vendor/ (published under _static/ by _config.yml), each with its licence.
set -euo pipefail
HTML_MANAGER_VERSION=1.0.15
MATHJAX_VERSION=3.2.2

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/book/_vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" "mathjax@$MATHJAX_VERSION" >/dev/null
mkdir hm mj
tar xzf "jupyter-widgets-html-manager-$HTML_MANAGER_VERSION.tgz" -C hm
tar xzf "mathjax-$MATHJAX_VERSION.tgz" -C mj

rm -rf "$dest/widgets" "$dest/mathjax"
mkdir -p "$dest/widgets" "$dest/mathjax/output/chtml/fonts"
# embed.js and the woff2 fonts webpack emitted beside it: every @font-face lists woff2 before the
# old formats (eot, ttf, svg, woff), which no supported browser loads. No source maps, no AMD build.
find hm/package/dist -maxdepth 1 -type f \( -name '*.js' -o -name '*.txt' -o -name '*.woff2' \) \
  ! -name '*amd*' -exec cp {} "$dest/widgets/" \;
licence=$(node -p "require('./hm/package/package.json').license")
printf '@jupyter-widgets/html-manager %s is licensed %s (Project Jupyter).\nThe licences of the code bundled into embed.js are in embed.js.LICENSE.txt.\n' \
  "$HTML_MANAGER_VERSION" "$licence" > "$dest/widgets/LICENSE.txt"
cp mj/package/es5/tex-chtml.js "$dest/mathjax/"
cp -r mj/package/es5/output/chtml/fonts/woff-v2 "$dest/mathjax/output/chtml/fonts/"
cp mj/package/LICENSE "$dest/mathjax/"
printf 'html-manager %s\nmathjax %s\n' "$HTML_MANAGER_VERSION" "$MATHJAX_VERSION" > "$dest/VERSIONS"
echo "vendored into $dest:"
du -sh "$dest"/*
