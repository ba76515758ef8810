#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Migration encryption for real, on 3 hosts: h1 and h2 with TLS (DRS_TESTBED_TLS: a throwaway CA
# of this testbed, certificates in each host's own /etc/pki for libvirtd and for QEMU's migration
# stream, libvirtd listen_tls, migration URIs qemu+tls://), h3 without (an empty /etc/pki).
# drsd in standalone mode with migration.tls left at its default (auto):
#   (a) drsctl migrate g1 h1 -> h2 and back: TLS — seen in libvirt's QEMU monitor traffic (the
#       source's QEMU gets migrate-set-parameters tls-creds objlibvirt_migrate_tls0 with
#       tls-hostname = the destination's address, the destination's QEMU a tls-creds-x509
#       object with endpoint server, both from /etc/pki/qemu); the history entry says "tls"
#       and the message "over TLS";
#   (b) drsctl migrate g2 h1 -> h3: plain, and says why (history "plain-fallback", the message
#       "plain ('h3' has no migration TLS: no directory /etc/pki/qemu)"); no tls-creds object;
#   drsctl status (text and --json) shows the mode and what it found per host;
#   (c) with migration.tls: true, drsctl migrate g1 h1 -> h3 is refused by the pre-check with a
#       message naming h3 and what is missing; g1 still runs once on h1, nothing defined on h3;
#   (c') with tls: true, g1 h1 -> h2 and back: over TLS;
#   (d) drsd.yaml's migration_tls_dir elsewhere (a reload forgets what was found): h1 has every
#       file there, h3 only ca-cert.pem: the fallback names the missing files and the directory.
# After each step: the guests run exactly once and their consoles are clean; drsd's TLS probe
# leaves no storage pool behind.
set -uo pipefail
SUITE=drsd-tls
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2etls}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.23}"
export DRS_TESTBED_TLS=h1,h2
# QEMU monitor traffic in each host's libvirtd log (the proof of what QEMU was told).
export DRS_TESTBED_LOG_FILTERS="1:qemu.qemu_monitor"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
HOSTS=(h1 h2 h3)

virsh_h() { # HOST ARGS…
        local h="$1"
        shift
        timeout 60 virsh -q -c "$("$TB" uri "$h")" "$@"
}
addr() { printf '%s.%d\n' "$DRS_TESTBED_NET" "$((10 + ${1#h}))"; }
vlog() { printf '%s/hosts/%s/log/libvirtd.log\n' "$STATE" "$1"; }
# log_mark HOST: the current size of its libvirtd log; log_since HOST MARK: a file with what came
# after (a file, so that grep -q never meets a pipe: under pipefail an early exit of grep would
# fail the producer with SIGPIPE).
log_mark() { stat -c %s "$(vlog "$1")" 2>/dev/null || echo 0; }
log_since() {
        local f="$WORK/since-$1-$2.log"
        tail -c +"$(($2 + 1))" "$(vlog "$1")" >"$f" 2>/dev/null
        printf '%s\n' "$f"
}

# last_migration VM: "RESULT|ENCRYPTION|MESSAGE" of the last finished migration of VM.
last_migration() {
        ctl history --json | python3 -c '
import json, sys
vm = sys.argv[1]
ev = [e for e in json.load(sys.stdin)["events"] if e.get("type") == "migration" and e.get("vm") == vm and e.get("result") not in ("started", "ordered")]
if ev:
    e = ev[-1]
    print("%s|%s|%s" % (e.get("result"), e.get("encryption", ""), e.get("message", "")))
' "$1"
}

# no_probe_pools: drsd's TLS probe's transient pools are gone from every host.
no_probe_pools() {
        local h left=""
        for h in "${HOSTS[@]}"; do
                grep -q '^drs-tls-probe-' <<<"$(virsh_h "$h" pool-list --all --name)" && left+="$h "
        done
        if [[ -z "$left" ]]; then ok "no TLS probe pool left on any host"; else fail "TLS probe pools left on: $left"; fi
        # Nothing written into the certificate directories (e.g. a pool marker).
        for h in h1 h2; do
                left="$(LC_ALL=C ls -A "$STATE/hosts/$h/pki/qemu" | tr '\n' ' ')"
                [[ "$left" == "ca-cert.pem client-cert.pem client-key.pem server-cert.pem server-key.pem " ]] ||
                        fail "$h's /etc/pki/qemu holds: $left"
        done
}

# migrate_step VM TARGET: drsctl migrate (it waits for the outcome in the history), then the VM
# runs once on TARGET.
migrate_step() {
        local vm="$1" to="$2" rc=0
        ctl migrate "$vm" --to "$to" >"$WORK/m.txt" 2>&1 || rc=$?
        sed 's/^/  drsctl: /' "$WORK/m.txt"
        ((rc == 0)) && ok "drsctl migrate $vm --to $to: exit 0" || fail "drsctl migrate $vm --to $to: exit $rc"
        [[ "$(where "$vm")" == "$to|$to" ]] && ok "$vm runs (and is defined) on $to only" || fail "$vm: $(where "$vm")"
}

e2e_begin

section "TLS on h1 and h2, none on h3 (the testbed's own CA)"
for h in h1 h2; do
        d="$STATE/hosts/$h/pki"
        if [[ -f "$d/qemu/server-cert.pem" && -f "$d/qemu/client-key.pem" && -f "$d/libvirt/servercert.pem" ]] &&
                openssl verify -CAfile "$STATE/pki-ca/ca-cert.pem" "$d/qemu/server-cert.pem" >/dev/null 2>&1; then
                ok "$h: certificates signed by the test CA in its /etc/pki"
        else
                fail "$h: certificates missing"
        fi
done
[[ -z "$(ls -A "$STATE/hosts/h3/pki" 2>/dev/null)" ]] && ok "h3: empty /etc/pki" || fail "h3 has files in its /etc/pki"
[[ "$("$TB" migration-uri h2)" == qemu+tls://* && "$("$TB" migration-uri h3)" == qemu+tcp://* ]] &&
        ok "migration URIs: h2 $("$TB" migration-uri h2), h3 $("$TB" migration-uri h3)" || fail "migration URIs"
# libvirtd on h2 answers TLS (listen_tls) to a client with h1's certificate, from h1's namespace
# (pkipath: a directory with cacert.pem, clientcert.pem, clientkey.pem).
mkdir -p "$WORK/pki-h1"
cp "$STATE/hosts/h1/pki/CA/cacert.pem" "$STATE/hosts/h1/pki/libvirt/clientcert.pem" \
        "$STATE/hosts/h1/pki/libvirt/private/clientkey.pem" "$WORK/pki-h1/"
if "$TB" exec h1 timeout 30 virsh -q -c "qemu+tls://$(addr h2)/system?pkipath=$WORK/pki-h1" hostname \
        >"$WORK/tlsconn.out" 2>&1; then
        ok "h2's libvirtd answers qemu+tls:// (listen_tls) from h1: hostname $(cat "$WORK/tlsconn.out")"
else
        fail "qemu+tls:// to h2 from h1: $(head -c 300 "$WORK/tlsconn.out")"
fi

section "guests g1, g2 on h1"
"$TB" guest g1 h1 128 idle --no-wait >/dev/null 2>&1 || fail "guest g1 did not start"
"$TB" guest g2 h1 128 idle --no-wait >/dev/null 2>&1 || fail "guest g2 did not start"
GUESTS+=(g1 g2)
for g in g1 g2; do
        "$TB" wait-guest "$g" 180 >/dev/null 2>&1 && ok "$g up" || { fail "$g did not boot"; exit 1; }
done
write_config "balance:
  enabled: false
automation:
  level: manual"
drsd_start
ok "drsd started (PID $DRSD_PID), migration.tls not set (default auto)"
wait_until 60 "g1 and g2 in the reports" bash -c "'$DRSCTL' --socket '$WORK/drsd.sock' vms | grep -q g2" || fail "g1/g2 not reported"
st="$(ctl status)"
grep -q '^Migration encryption: auto — not checked yet: h1 h2 h3' <<<"$st" && ok "status before any migration: $(grep '^Migration encryption' <<<"$st")" ||
        fail "status: $(grep '^Migration encryption' <<<"$st")"

section "(a) tls: auto, g1 h1 -> h2 (both have TLS): over TLS"
m1="$(log_mark h1)"
m2="$(log_mark h2)"
migrate_step g1 h2
res="$(last_migration g1)"
echo "  history: $res"
[[ "$res" == "completed|tls|"*"over TLS"* ]] && ok "history: completed, encryption tls, 'over TLS'" || fail "history: $res"
src="$(grep -m1 -o '"execute":"migrate-set-parameters","arguments":{"tls-creds":"objlibvirt_migrate_tls0","tls-hostname":"[0-9.]*"' "$(log_since h1 "$m1")")"
[[ "$src" == *"\"tls-hostname\":\"$(addr h2)\""* ]] &&
        ok "h1's QEMU was told: $src" || fail "h1's QEMU was not given TLS credentials for the migration"
dst="$(grep -m1 -o '"qom-type":"tls-creds-x509","id":"objlibvirt_migrate_tls0","dir":"/etc/pki/qemu","endpoint":"server"' "$(log_since h2 "$m2")")"
[[ -n "$dst" ]] && ok "h2's QEMU loaded its TLS credentials: $dst" || fail "no tls-creds-x509 server object on h2"
line="$(ctl history | grep "'g1'" | tail -n1)"
echo "  drsctl history: $line"
[[ "$line" == *"[tls]" ]] && ok "drsctl history shows [tls]" || fail "drsctl history line without [tls]"
check_guests

section "(a') and back, g1 h2 -> h1: over TLS"
m2="$(log_mark h2)"
migrate_step g1 h1
res="$(last_migration g1)"
echo "  history: $res"
[[ "$res" == "completed|tls|"*"over TLS"* ]] && ok "history: completed, encryption tls" || fail "history: $res"
grep -q "\"tls-creds\":\"objlibvirt_migrate_tls0\",\"tls-hostname\":\"$(addr h1)\"" "$(log_since h2 "$m2")" &&
        ok "h2's QEMU migrated with TLS to $(addr h1)" || fail "h2's QEMU was not given TLS credentials"

section "(b) tls: auto, g2 h1 -> h3 (no TLS on h3): plain, and says why"
m1="$(log_mark h1)"
m3="$(log_mark h3)"
migrate_step g2 h3
res="$(last_migration g2)"
echo "  history: $res"
[[ "$res" == "completed|plain-fallback|"*"plain ('h3' has no migration TLS: no directory /etc/pki/qemu)"* ]] &&
        ok "history: completed, encryption plain-fallback, with the reason" || fail "history: $res"
! grep -q '"tls-creds":"objlibvirt_migrate_tls0"' "$(log_since h1 "$m1")" && ! grep -q 'tls-creds-x509' "$(log_since h3 "$m3")" &&
        ok "no TLS credentials given to either QEMU" || fail "TLS credentials seen in a plain migration"
grep -q '"execute":"migrate"' "$(log_since h1 "$m1")" && ok "(h1's QEMU did migrate: the log covers it)" || fail "no migrate command in h1's log"
line="$(ctl history | grep "'g2'" | tail -n1)"
[[ "$line" == *"[plain-fallback]" ]] && ok "drsctl history shows [plain-fallback]" || fail "drsctl history line without [plain-fallback]: $line"
check_guests

section "drsctl status: the mode and what was found per host"
st="$(ctl status | grep '^Migration encryption')"
echo "  $st"
[[ "$st" == "Migration encryption: auto — TLS: h1 h2; plain: h3 (no directory /etc/pki/qemu)" ]] && ok "status text" || fail "status text: $st"
js="$(ctl status --json | python3 -c '
import json, sys
e = json.load(sys.stdin)["migration_encryption"]
print(e["mode"], " ".join("%s=%s" % (h["host"], h["tls"]) for h in e["hosts"]))')"
[[ "$js" == "auto h1=yes h2=yes h3=no" ]] && ok "status --json: $js" || fail "status --json: $js"
no_probe_pools

section "(c) tls: true, g1 h1 -> h3: refused by the pre-check"
printf '%s\n' "balance: {enabled: false}
automation: {level: manual}
migration: {tls: true}" >"$WORK/policy.yaml"
ctl reload >/dev/null && ok "policy reloaded (migration.tls: true)" || fail "reload"
m1="$(log_mark h1)"
rc=0
ctl migrate g1 --to h3 >"$WORK/m3.txt" 2>&1 || rc=$?
sed 's/^/  drsctl: /' "$WORK/m3.txt"
((rc != 0)) && grep -q "migration.tls is true but 'h3' has no migration TLS: no directory /etc/pki/qemu" "$WORK/m3.txt" &&
        ok "refused (exit $rc) naming h3 and what is missing" || fail "exit $rc"
res="$(last_migration g1)"
echo "  history: $res"
[[ "$res" == "skipped|unknown|"*"precheck failed: migration.tls is true but 'h3'"* ]] && ok "history: skipped by the pre-check" ||
        fail "history: $res"
[[ "$(where g1)" == "h1|h1" ]] && ok "g1 still runs on h1 only, nothing defined on h3" || fail "g1: $(where g1)"
! grep -q '"execute":"migrate"' "$(log_since h1 "$m1")" && ok "no migration was started" || fail "h1's QEMU was told to migrate"

section "(c') tls: true between TLS hosts: g1 h1 -> h2 and back, over TLS"
for to in h2 h1; do
        m="$(log_mark "$([[ $to == h2 ]] && echo h1 || echo h2)")"
        migrate_step g1 "$to"
        res="$(last_migration g1)"
        echo "  history: $res"
        [[ "$res" == "completed|tls|"*"over TLS"* ]] && ok "history: completed, encryption tls" || fail "history: $res"
        grep -q "\"tls-creds\":\"objlibvirt_migrate_tls0\",\"tls-hostname\":\"$(addr "$to")\"" \
                "$(log_since "$([[ $to == h2 ]] && echo h1 || echo h2)" "$m")" &&
                ok "the source's QEMU migrated with TLS to $(addr "$to")" || fail "no TLS credentials given to the source's QEMU"
done
check_guests

section "(d) drsd.yaml migration_tls_dir: /etc/pki/drs-test: h1 has all the files there, h3 only ca-cert.pem; tls: auto, g1 h1 -> h3"
printf '%s\n' "balance: {enabled: false}
automation: {level: manual}" >"$WORK/policy.yaml"
mkdir -p "$STATE/hosts/h1/pki/drs-test" "$STATE/hosts/h3/pki/drs-test"
cp -a "$STATE/hosts/h1/pki/qemu/." "$STATE/hosts/h1/pki/drs-test/"
cp "$STATE/pki-ca/ca-cert.pem" "$STATE/hosts/h3/pki/drs-test/ca-cert.pem"
echo "migration_tls_dir: /etc/pki/drs-test" >>"$WORK/drsd.yaml"
ctl reload >/dev/null && ok "drsd.yaml reloaded (migration_tls_dir: /etc/pki/drs-test)" || fail "reload"
st="$(ctl status | grep '^Migration encryption')"
[[ "$st" == "Migration encryption: auto — not checked yet: h1 h2 h3" ]] && ok "what was found is forgotten: $st" || fail "status after the reload: $st"
migrate_step g1 h3
res="$(last_migration g1)"
echo "  history: $res"
[[ "$res" == "completed|plain-fallback|"*"plain ('h3' has no migration TLS: missing server-cert.pem, server-key.pem, client-cert.pem, client-key.pem in /etc/pki/drs-test)"* ]] &&
        ok "history: plain-fallback, naming the missing files" || fail "history: $res"
st="$(ctl status | grep '^Migration encryption')"
echo "  $st"
[[ "$st" == "Migration encryption: auto — TLS: h1; plain: h3 (missing server-cert.pem, server-key.pem, client-cert.pem, client-key.pem in /etc/pki/drs-test); not checked yet: h2" ]] &&
        ok "status text" || fail "status text: $st"

section "the end"
check_guests
no_probe_pools
ctl history --json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("type") == "migration" and e.get("result") not in ("started", "ordered"):
        print("  %-4s %s -> %s  %-9s %-15s %6d ms  %s" % (e.get("vm"), e.get("source"), e.get("target"), e.get("result"), e.get("encryption", "-"), e.get("duration_ms", 0), e.get("message", "")))'
