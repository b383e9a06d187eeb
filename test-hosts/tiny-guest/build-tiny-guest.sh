#!/usr/bin/env bash
# Builds (once) the kernel + initramfs of a tiny real Linux guest for libvirt tests, and prints where they are as JSON:
#   {"kernelVersion":"…","kernel":"…/vmlinuz","initrd":"…/initrd.img","cmdline":"…","dir":"…"}
#
# Kernel: Debian's current linux-image-<ver>-cloud-amd64 (the name the linux-image-cloud-amd64 metapackage points at),
# fetched with `apt-get download` and unpacked with `dpkg -x` — nothing is installed on the host.
# Initramfs: busybox-static as init, the virtio/ACPI modules that kernel builds as modules, and the host's qemu-ga with
# its shared libraries; the files under rootfs/ next to this script (inittab, boot and shutdown scripts, ACPI handler,
# /sbin/shutdown shim) are copied over it.
#
# The result lives in $LIFEBOAT_TEST_CACHE (default /var/cache/lifeboat-test)/tiny-guest-<kernel version>-<recipe hash>/;
# the recipe hash covers this script, rootfs/ and the host's busybox/qemu-ga versions, so changing any of them builds a
# new guest and an unchanged recipe is never rebuilt. Concurrent callers wait on a lock; the folder appears atomically.
#
# Usage: build-tiny-guest.sh   (as root, or with LIFEBOAT_TEST_CACHE pointing somewhere writable)
# Needs: apt-get, dpkg, depmod/modprobe (kmod), cpio, gzip, busybox-static, qemu-guest-agent, flock (util-linux).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${LIFEBOAT_TEST_CACHE:-/var/cache/lifeboat-test}"
cmdline="console=ttyS0 quiet mitigations=off"
# What the guest needs as modules in this kernel (ext4, jbd2, crc32c and the 8250 serial console are built in).
modules=(virtio_pci virtio_blk virtio_console button evdev)

log() { echo "build-tiny-guest: $*" >&2; }
json_escape() { local s=${1//\\/\\\\}; printf '%s' "${s//\"/\\\"}"; }

for tool in apt-get apt-cache dpkg depmod modprobe cpio gzip flock ldd ldconfig sha256sum; do
  command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 2; }
done
[[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 || { log "needs a static /bin/busybox (apt-get install busybox-static)"; exit 2; }
[[ -x /usr/sbin/qemu-ga ]] || { log "needs /usr/sbin/qemu-ga (apt-get install qemu-guest-agent)"; exit 2; }

kernel_package() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
package="${TINY_GUEST_KERNEL_PACKAGE:-$(kernel_package)}"
if [[ -z "$package" ]]; then
  log "no linux-image-cloud-amd64 in the apt lists; running apt-get update"
  apt-get update -q >&2
  package="$(kernel_package)"
fi
[[ "$package" =~ ^linux-image-([0-9][A-Za-z0-9.+-]*-cloud-amd64)$ ]] || { log "unexpected kernel package name: '$package'"; exit 2; }
kver="${BASH_REMATCH[1]}"

recipe_hash="$(
  {
    cat "${BASH_SOURCE[0]}"
    (cd "$here/rootfs" && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done)
    dpkg-query -W busybox-static qemu-guest-agent 2>/dev/null || true
  } | sha256sum | cut -c1-12
)"
out="$cache/tiny-guest-$kver-$recipe_hash"

print_result() {
  printf '{"kernelVersion":"%s","kernel":"%s","initrd":"%s","cmdline":"%s","dir":"%s"}\n' \
    "$(json_escape "$kver")" "$(json_escape "$out/vmlinuz")" "$(json_escape "$out/initrd.img")" \
    "$(json_escape "$(cat "$out/cmdline")")" "$(json_escape "$out")"
}

if [[ -s "$out/initrd.img" && -s "$out/vmlinuz" && -s "$out/cmdline" ]]; then
  print_result
  exit 0
fi

mkdir -p "$cache"
chmod 755 "$cache" # libvirt's QEMU runs as libvirt-qemu and must reach the kernel and initrd
exec 9>"$cache/.tiny-guest.lock"
flock -w 900 9 || { log "timed out waiting for another build"; exit 1; }
if [[ -s "$out/initrd.img" ]]; then
  print_result
  exit 0
fi

work="$(mktemp -d "$cache/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$SECONDS
log "building $out"

cd "$work"
if ! apt-get -q -o APT::Sandbox::User=root download "$package" >&2; then
  log "download failed; refreshing apt lists once"
  apt-get update -q >&2
  apt-get -q -o APT::Sandbox::User=root download "$package" >&2
fi
dpkg -x ./*.deb kernel
[[ -f "kernel/boot/vmlinuz-$kver" ]] || { log "no vmlinuz-$kver in $package"; exit 1; }
depmod -b kernel "$kver"

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,data,root,lib/modules}
chmod 1777 "$root/tmp"

# Modules in dependency order (modprobe resolves it from the depmod output; builtins print as "builtin …").
: >"$root/etc/modules"
while read -r path; do
  name="$(basename "$path")"
  case "$name" in
    *.ko.xz) xz -dc "$path" >"$root/lib/modules/${name%.xz}"; name="${name%.xz}" ;;
    *.ko.zst) zstd -qdc "$path" >"$root/lib/modules/${name%.zst}"; name="${name%.zst}" ;;
    *) cp "$path" "$root/lib/modules/$name" ;;
  esac
  echo "$name" >>"$root/etc/modules"
done < <(modprobe -a -d kernel -S "$kver" --show-depends "${modules[@]}" | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
log "modules: $(tr '\n' ' ' <"$root/etc/modules")"

cp /bin/busybox "$root/bin/busybox"
while read -r applet; do
  [[ -e "$root/$applet" || -L "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done < <("$root/bin/busybox" --list-full)
ln -s /bin/busybox "$root/init" # the kernel runs /init from an initramfs; as "init" busybox reads /etc/inittab

# qemu-ga and exactly the shared libraries the host's build links against (same Debian release as the kernel).
cp /usr/sbin/qemu-ga "$root/usr/sbin/qemu-ga"
while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done < <(ldd /usr/sbin/qemu-ga | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }')
ldconfig -r "$root" 2>/dev/null || true

cp -a "$here/rootfs/." "$root/"
chmod 755 "$root/etc/rc.sysinit" "$root/etc/rc.shutdown" "$root/etc/acpi/PWRF/00000080" "$root/sbin/shutdown"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

mkdir -p "$work/out"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -6 >"$work/out/initrd.img"
cp "kernel/boot/vmlinuz-$kver" "$work/out/vmlinuz"
cp "kernel/boot/config-$kver" "$work/out/config"
printf '%s\n' "$cmdline" >"$work/out/cmdline"
chmod 644 "$work/out"/*
chmod 755 "$work/out"
mv -T "$work/out" "$out"
log "built in $((SECONDS - started)) s: kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1)"
print_result
