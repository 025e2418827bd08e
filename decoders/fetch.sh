#!/usr/bin/env bash
# Puts the C sources of the phone-format decoders (decoders/README.md) in a
# per-user cache shared by every clone, and prints where they are as shell
# assignments for decoders/build.sh:
#
#   DAV1D=…  LIBAVIF=…  LIBDE265=…  DLMALLOC=…  SOURCES_ID=…
#
# Nothing comes from GitHub (CI cannot reach it):
#   dav1d 1.4.3    the crates.io tarball of libdav1d-sys 0.7.1 (vendor/)   BSD-2-Clause
#   libavif 1.0.4  the crates.io tarball of libavif-sys 0.17.0 (libavif/)  BSD-2-Clause
#                  (both checked against the sha256 below, which is what
#                  crates.io's index records for them)
#   libde265 1.0.11 + Debian's patches: `apt-get source libde265` from
#                  Debian bookworm (and bookworm-security), through a
#                  deb-src list of our own in the cache (the system's apt
#                  configuration is not touched; no root needed). apt checks
#                  every file against Debian's signed Sources index. The
#                  newest version that downloads is taken (security updates
#                  are dropped from the pool once superseded) and its
#                  version is part of the build's cache key.      LGPL-3.0
#   dlmalloc.c     Debian's emscripten package (public domain), downloaded
#                  by scripts/setup-webp-toolchain.sh --dlmalloc with the SSE
#                  headers the libwebp build already takes from it.
# Idempotent and quiet when everything is there. Messages go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[36m[decoders]\033[0m %s\n' "$*" >&2; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/avatar-edge/decoder-sources"
mkdir -p "$cache"

# name version sha256 (crates.io's "cksum" of the .crate file)
crates=(
  "libdav1d-sys 0.7.1+libdav1d.1.4.3 3d875e9669d116a603412a126de599b7bf47789a365b79fcf461fbf9c18d141f"
  "libavif-sys 0.17.0+libavif.1.0.4 490ca74b61e773140bebb086c81facb23273a99364a9ab0c92ab1532b90ade35"
)
crate_dir() { echo "$cache/$1-$2"; }
for c in "${crates[@]}"; do
  read -r name version sum <<< "$c"
  dir=$(crate_dir "$name" "$version")
  [ -f "$dir/.complete" ] && continue
  say "downloading $name $version from crates.io"
  tmp=$(mktemp -d)
  url="https://static.crates.io/crates/$name/$name-${version//+/%2B}.crate"
  curl -fsSL --retry 3 -o "$tmp/c.crate" "$url"
  got=$(sha256sum "$tmp/c.crate" | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    echo "[decoders] $name $version: sha256 $got, expected $sum" >&2
    rm -rf "$tmp"; exit 1
  fi
  rm -rf "$dir"; mkdir -p "$tmp/x"
  tar xzf "$tmp/c.crate" -C "$tmp/x"
  mv "$tmp/x/$name-$version" "$dir"
  echo "$sum" > "$dir/.complete"
  rm -rf "$tmp"
done
DAV1D=$(crate_dir libdav1d-sys 0.7.1+libdav1d.1.4.3)/vendor
LIBAVIF=$(crate_dir libavif-sys 0.17.0+libavif.1.0.4)/libavif

# libde265 from Debian's source package. A private apt state in the cache:
# our deb-src list, its index lists, apt's own cache.
de_root="$cache/libde265"
if ! ls "$de_root"/*/.complete >/dev/null 2>&1; then
  apt_dir="$cache/apt"
  mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  cat > "$apt_dir/parts/debian-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/parts"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
            -o "APT::Sandbox::User=$(id -un)")
  command -v dpkg-source >/dev/null || { echo "[decoders] dpkg-source missing (apt-get install dpkg-dev; scripts/setup-webp-toolchain.sh does)" >&2; exit 1; }
  say "fetching libde265's Debian source package (deb-src list in $apt_dir)"
  apt-get "${apt_opts[@]}" update -qq >&2
  versions=$(apt-cache "${apt_opts[@]}" showsrc libde265 | sed -n 's/^Version: //p' | sort -Vr | uniq)
  [ -n "$versions" ] || { echo "[decoders] no libde265 in Debian's Sources index" >&2; exit 1; }
  ok=
  for v in $versions; do
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get "${apt_opts[@]}" source -qq "libde265=$v" >/dev/null 2>&1) \
       && [ -f "$tmp/libde265-1.0.11/libde265/de265.h" ]; then
      dir="$de_root/$v"
      rm -rf "$dir"; mkdir -p "$de_root"
      mv "$tmp/libde265-1.0.11" "$dir"
      (cd "$tmp" && sha256sum ./*.dsc ./*.tar.*) > "$dir/.complete"
      rm -rf "$tmp"; ok=1
      say "libde265 $v"
      break
    fi
    say "libde265 $v does not download (superseded?), trying an older one"
    rm -rf "$tmp"
  done
  [ -n "$ok" ] || { echo "[decoders] could not download any libde265 source package: $versions" >&2; exit 1; }
fi
LIBDE265=$(ls -d "$de_root"/*/ | sort -V | tail -n 1)
LIBDE265=${LIBDE265%/}

DLMALLOC=$(bash scripts/setup-webp-toolchain.sh --dlmalloc)

SOURCES_ID="dav1d=1.4.3 libavif=1.0.4 libde265=$(basename "$LIBDE265") dlmalloc=$(sha256sum "$DLMALLOC" | cut -c1-16)"
printf 'DAV1D=%q\nLIBAVIF=%q\nLIBDE265=%q\nDLMALLOC=%q\nSOURCES_ID=%q\n' "$DAV1D" "$LIBAVIF" "$LIBDE265" "$DLMALLOC" "$SOURCES_ID"
