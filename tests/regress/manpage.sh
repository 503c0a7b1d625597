#!/usr/bin/env bash
# manpage.sh - synscope(1) documents every option that `synscope COMMAND --help` lists, and
# `cmake --install` installs the binary and the page.  usage: manpage.sh SYNSCOPE PAGE BUILD_DIR
set -u
synscope=$1
page=$2
build=$3
failures=0
checked=0
for cmd in read live probe; do
    for opt in $("$synscope" "$cmd" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        checked=$((checked + 1))
        escaped=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
        if ! grep -q -- "$escaped" "$page"; then
            echo "FAIL: synscope $cmd $opt is not in $page"
            failures=$((failures + 1))
        fi
    done
done
[ "$checked" -gt 10 ] || { echo "FAIL: only $checked options found in --help"; failures=$((failures + 1)); }
if command -v groff >/dev/null && groff -man -ww -z "$page" 2>&1 | grep -q .; then
    echo "FAIL: groff warns about $page:"; groff -man -ww -z "$page"
    failures=$((failures + 1))
fi
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if cmake --install "$build" --prefix "$dest" >/dev/null; then
    for f in bin/synscope share/man/man1/synscope.1; do
        [ -f "$dest/$f" ] || { echo "FAIL: cmake --install did not install $f"; failures=$((failures + 1)); }
    done
    "$dest/bin/synscope" --version | grep -q '^synscope ' || { echo "FAIL: installed binary"; failures=$((failures + 1)); }
else
    echo "FAIL: cmake --install failed"
    failures=$((failures + 1))
fi
echo "$((checked - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
