#!/usr/bin/env bash
# Renders editors/screenshot.png: an example highlighted by vim (editors/vim, exported
# with :TOhtml, colorscheme habamax) and by the TextMate grammar (editors/vscode,
# tokenized and themed by vscode-textmate), side by side, taken by headless Chromium.
#
#   editors/screenshot.sh [FILE]     (default: examples/ci_analysis.flow)
#
# Needs vim, node (with `npm ci` done in editors/vscode) and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-examples/ci_analysis.flow}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/tohtml.vim" <<'VIM'
set nocompatible
let &runtimepath = getcwd() . '/editors/vim,' . &runtimepath
filetype plugin indent on
syntax on
set termguicolors background=dark
colorscheme habamax
edit!
runtime plugin/tohtml.vim
let g:html_no_progress = 1
let g:html_number_lines = 0
let g:html_font = ['DejaVu Sans Mono', 'monospace']
TOhtml
execute 'write!' fnameescape(g:out)
qall!
VIM
vim -Nu NONE -i NONE -Es -c "let g:out = '$tmp/vim.html'" -c "source $tmp/tohtml.vim" "$file" >/dev/null
# The same font size as the other side.
sed -i 's/^pre { \(.*\)font-family:/pre { \1font-size: 13px; line-height: 1.45; margin: 0; padding: 12px; font-family:/' "$tmp/vim.html"
sed -i 's/^body { \(.*\)font-family:/body { \1margin: 0; font-size: 13px; font-family:/' "$tmp/vim.html"
node editors/vscode/tests/tokenize.js --html "$file" > "$tmp/vscode.html"

lines=$(wc -l < "$file")
height=$(( lines * 19 + 30 ))
cat > "$tmp/page.html" <<HTML
<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
  body { margin: 0; padding: 14px; background: #121212; display: flex; gap: 14px;
         font: 14px 'DejaVu Sans', sans-serif; color: #ccc; }
  figure { margin: 0; }
  figcaption { padding: 0 0 8px 2px; }
  iframe { border: 1px solid #333; width: 890px; height: ${height}px; }
</style></head><body>
  <figure><figcaption>vim: editors/vim (colorscheme habamax)</figcaption><iframe src="vim.html"></iframe></figure>
  <figure><figcaption>VS Code: editors/vscode grammar (Dark Modern colours)</figcaption><iframe src="vscode.html"></iframe></figure>
</body></html>
HTML
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1840,$(( height + 60 )) --screenshot="$tmp/shot.png" "file://$tmp/page.html" 2>/dev/null
cp "$tmp/shot.png" editors/screenshot.png
echo "wrote editors/screenshot.png ($file)"
