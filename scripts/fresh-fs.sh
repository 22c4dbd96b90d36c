#!/usr/bin/env bash
# A freshly made filesystem for one benchmark measurement (root only):
#   scripts/fresh-fs.sh mount DIR    -> makes DIR.img (sparse, FRESH_FS_SIZE,
#                                       8G by default), an ext4 without a
#                                       journal on it, mounts it at DIR and
#                                       prints DIR
#   scripts/fresh-fs.sh unmount DIR  -> unmounts DIR and deletes DIR.img
# Why: on ext4 without a journal (this machine's disk) an inode allocation
# skips every inode freed in the last few minutes, one by one, so a
# measurement that follows the deletion of another one's files pays for
# them. A new filesystem per measurement starts every one alike.
set -euo pipefail
command -v mkfs.ext4 >/dev/null || apt-get install -y e2fsprogs >/dev/null
case "${1:-}" in
  mount)
    dir="$2"
    mountpoint -q "$dir" && umount "$dir"
    rm -f "$dir.img"
    truncate -s "${FRESH_FS_SIZE:-8G}" "$dir.img"
    mkfs.ext4 -q -F -O ^has_journal "$dir.img"
    mkdir -p "$dir"
    mount -o loop "$dir.img" "$dir"
    echo "$dir"
    ;;
  unmount)
    dir="$2"
    if mountpoint -q "$dir"; then umount "$dir"; fi
    rm -f "$dir.img"
    ;;
  *)
    echo "usage: $0 mount|unmount DIR" >&2
    exit 2
    ;;
esac
