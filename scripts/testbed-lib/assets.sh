# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# scripts/testbed assets: the guest kernel (Debian's cloud kernel, extracted, never
# installed) and a busybox-static initramfs whose /init runs one of the guest modes.
# Sourced by scripts/testbed.

# Modules the guest loads, in this order (dependencies are resolved from modules.dep).
TB_GUEST_MODULES=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon virtio_console virtio_blk)

tb_assets_dir() { printf '%s/assets\n' "$(tb_state_root)"; }

tb_assets_ok() {
        local a
        a="$(tb_assets_dir)"
        [[ -s "$a/vmlinuz" && -s "$a/initrd.img" && -f "$a/VERSION" ]] &&
                grep -q " init=$(tb_guest_init_id)\$" "$a/VERSION"
}

# Identifies the guest's /init and module list: assets built from another one are rebuilt.
tb_guest_init_id() {
        { tb_guest_init; printf '%s\n' "${TB_GUEST_MODULES[@]}"; } | md5sum | cut -c1-12
}

# The guest's /init (busybox sh). Modes: idle, burn (one vCPU busy), dirty (rewrites
# drs.dirty_mib MiB of RAM in a loop), disk (writes numbered, checksummed records to its
# first virtio disk and verifies them on read-back; see below). Prints
# 'drs-guest: ready mode=…' when up.
#
# disk mode: the disk is a ring of drs.disk_slots records of 256 KiB; record SEQ goes to
# slot SEQ % slots and starts with the line "DRS seq=SEQ slot=SLOT". Each write is synced
# (fsync) and logged on the console as 'drs-disk: w SEQ SLOT MD5'; the guest keeps the
# checksum of each slot's last record in RAM (/tmp, migrated with the guest). Every
# drs.disk_verify writes it drops the page cache and reads every written slot back:
# 'drs-disk: verify PASS ok N' when all match, 'drs-disk: MISMATCH slot S seq Q want W got G'
# for each that does not, 'drs-disk: write-error SEQ' when a write fails.
tb_guest_init() {
        cat <<'EOS'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mode=idle
dirty_mib=32
disk_slots=48
disk_verify=16
for a in $(cat /proc/cmdline); do
        case "$a" in
        drs.mode=*) mode="${a#drs.mode=}" ;;
        drs.dirty_mib=*) dirty_mib="${a#drs.dirty_mib=}" ;;
        drs.disk_slots=*) disk_slots="${a#drs.disk_slots=}" ;;
        drs.disk_verify=*) disk_verify="${a#drs.disk_verify=}" ;;
        esac
done
if [ -f /modules/order ]; then
        while read -r m; do
                insmod "/modules/$m" 2>/dev/null
        done </modules/order
fi
hostname "$(sed -n 's/.*drs.name=\([^ ]*\).*/\1/p' /proc/cmdline)"
echo "drs-guest: balloon=$( [ -d /sys/bus/virtio/drivers/virtio_balloon ] && echo yes || echo no)"
echo "drs-guest: ready mode=$mode dirty_mib=$dirty_mib"
case "$mode" in
burn)
        while :; do :; done
        ;;
dirty)
        # Two random 1 MiB patterns, written alternately over N MiB: every page changes on
        # every pass (urandom itself is too slow under TCG to be the source of each pass).
        mount -t tmpfs -o size=$((dirty_mib + 8))m tmpfs /tmp
        dd if=/dev/urandom of=/tmp/pa bs=1M count=1 2>/dev/null
        dd if=/dev/urandom of=/tmp/pb bs=1M count=1 2>/dev/null
        # One cat per pass (spawning processes is what is slow under TCG); 1<> rewrites the
        # file in place instead of truncating it.
        la=""
        lb=""
        k=0
        while [ "$k" -lt "$dirty_mib" ]; do
                la="$la /tmp/pa"
                lb="$lb /tmp/pb"
                k=$((k + 1))
        done
        i=0
        while :; do
                if [ $((i % 2)) -eq 0 ]; then cat $la 1<>/tmp/dirty; else cat $lb 1<>/tmp/dirty; fi
                i=$((i + 1))
                [ $((i % 10)) -eq 0 ] && echo "drs-guest: dirty pass $i"
        done
        ;;
disk)
        dmesg -n 1 # drop_caches logs a line each time: keep the console for the records
        mount -t tmpfs -o size=16m tmpfs /tmp
        mkdir -p /tmp/slots
        k=0
        while [ ! -b /dev/vda ] && [ "$k" -lt 50 ]; do sleep 0.2; k=$((k + 1)); done
        [ -b /dev/vda ] || { echo "drs-disk: no /dev/vda"; while :; do sleep 3600; done; }
        # Two random bodies (256 KiB minus the 64-byte header line), alternated.
        dd if=/dev/urandom of=/tmp/p0 bs=262080 count=1 2>/dev/null
        dd if=/dev/urandom of=/tmp/p1 bs=262080 count=1 2>/dev/null
        echo "drs-disk: start slots=$disk_slots verify=$disk_verify"
        seq=0
        pass=0
        while :; do
                slot=$((seq % disk_slots))
                { printf '%-63s\n' "DRS seq=$seq slot=$slot"; cat /tmp/p$((seq % 2)); } >/tmp/rec
                sum=$(md5sum </tmp/rec)
                sum=${sum%% *}
                if dd if=/tmp/rec of=/dev/vda bs=262144 seek=$slot count=1 conv=notrunc,fsync 2>/dev/null; then
                        echo "$seq $sum" >/tmp/slots/$slot
                        echo "drs-disk: w $seq $slot $sum"
                else
                        echo "drs-disk: write-error $seq"
                fi
                seq=$((seq + 1))
                if [ $((seq % disk_verify)) -eq 0 ]; then
                        pass=$((pass + 1))
                        sync
                        echo 3 >/proc/sys/vm/drop_caches
                        ok=0
                        bad=0
                        for f in /tmp/slots/*; do
                                s=${f##*/}
                                read -r q want <"$f"
                                got=$(dd if=/dev/vda bs=262144 skip=$s count=1 2>/dev/null | md5sum)
                                got=${got%% *}
                                if [ "$got" = "$want" ]; then
                                        ok=$((ok + 1))
                                else
                                        bad=$((bad + 1))
                                        echo "drs-disk: MISMATCH slot $s seq $q want $want got $got"
                                fi
                        done
                        if [ "$bad" -eq 0 ]; then
                                echo "drs-disk: verify $pass ok $ok"
                        else
                                echo "drs-disk: verify $pass FAILED $bad of $((ok + bad))"
                        fi
                fi
        done
        ;;
*)
        while :; do sleep 3600; done
        ;;
esac
EOS
}

cmd_assets() {
        [[ $EUID -eq 0 ]] || tb_die "assets: run as root"
        local a force=0
        [[ "${1:-}" == "--force" ]] && force=1
        a="$(tb_assets_dir)"
        if tb_assets_ok && ((force == 0)); then
                tb_log "assets: cached in $a ($(cat "$a/VERSION"))"
                return 0
        fi
        command -v busybox >/dev/null || tb_die "assets: busybox missing: run 'scripts/testbed deps'"
        local bb
        bb="$(command -v busybox)"
        tb_pkg_installed busybox-static || tb_die "assets: busybox-static missing: run 'scripts/testbed deps'"
        mkdir -p "$a"
        local work
        rm -rf "$a"/build.*
        work="$(mktemp -d "$a/build.XXXXXX")"
        chmod 755 "$work" # apt-get download drops privileges to _apt where it can
        # The real package behind the linux-image-cloud-amd64 metapackage.
        local pkg
        pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
                awk '/Depends: linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')"
        if [[ -z "$pkg" ]]; then
                tb_apt update >/dev/null || true
                pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
                        awk '/Depends: linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')"
        fi
        [[ -n "$pkg" ]] || tb_die "assets: cannot resolve linux-image-cloud-amd64"
        tb_log "assets: downloading $pkg (not installed: extracted only)"
        (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg") || tb_die "assets: apt-get download $pkg failed"
        dpkg-deb -x "$work"/"$pkg"_*.deb "$work/kpkg"
        local kver vmlinuz
        kver="$(ls "$work/kpkg/lib/modules" | head -n1)"
        vmlinuz="$work/kpkg/boot/vmlinuz-$kver"
        [[ -f "$vmlinuz" ]] || tb_die "assets: no kernel image in $pkg"
        local mdir="$work/kpkg/lib/modules/$kver"
        # The package does not ship modules.dep (depmod makes it on install): make it here.
        depmod -b "$work/kpkg" "$kver" || tb_die "assets: depmod failed"

        # Initramfs tree.
        local root="$work/root"
        mkdir -p "$root"/{bin,dev,proc,sys,tmp,modules}
        cp "$bb" "$root/bin/busybox"
        ln -s busybox "$root/bin/sh"
        tb_guest_init >"$root/init"
        chmod 755 "$root/init"

        # Modules (and their dependencies) that are not built in, in load order.
        local order=() seen=" " m
        tb_add_module() {
                local name="$1" path deps d
                path="$(awk -v n="$name" -F: '{ p = $1; sub(/.*\//, "", p); sub(/\.ko.*$/, "", p); gsub(/-/, "_", p)
                                                if (p == n) { print $1; exit } }' "$mdir/modules.dep")"
                [[ -n "$path" ]] || return 0 # built in, or absent
                [[ "$seen" == *" $path "* ]] && return 0
                deps="$(awk -v p="$path" -F': *' '$1 == p { print $2; exit }' "$mdir/modules.dep")"
                for d in $deps; do
                        local dn="${d##*/}"
                        dn="${dn%%.ko*}"
                        tb_add_module "${dn//-/_}"
                done
                [[ "$seen" == *" $path "* ]] && return 0
                seen+="$path "
                order+=("$path")
        }
        for m in "${TB_GUEST_MODULES[@]}"; do
                tb_add_module "$m"
        done
        : >"$root/modules/order"
        for m in "${order[@]}"; do
                local base="${m##*/}"
                case "$base" in
                *.ko) cp "$mdir/$m" "$root/modules/$base" ;;
                *.ko.xz) xz -dc "$mdir/$m" >"$root/modules/${base%.xz}"; base="${base%.xz}" ;;
                *.ko.zst) zstd -qdc "$mdir/$m" >"$root/modules/${base%.zst}"; base="${base%.zst}" ;;
                *) continue ;;
                esac
                printf '%s\n' "$base" >>"$root/modules/order"
        done
        tb_log "assets: kernel $kver; modules: $(tr '\n' ' ' <"$root/modules/order")"

        (cd "$root" && find . | sort | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.img"
        cp "$vmlinuz" "$work/vmlinuz"
        mv -f "$work/vmlinuz" "$a/vmlinuz"
        mv -f "$work/initrd.img" "$a/initrd.img"
        printf 'kernel=%s package=%s modules=%s init=%s\n' "$kver" "$pkg" "$(tr '\n' ',' <"$root/modules/order")" \
                "$(tb_guest_init_id)" >"$a/VERSION"
        rm -rf "$work"
        tb_log "assets: ready in $a"
}
