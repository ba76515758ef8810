/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hv.c: what precheck reads from domain XML (through domxml.c), and sample copies. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "hv.h"
#include "macro.h"

static const char *const full_xml =
        "<?xml version='1.0'?>\n"
        "<!-- a comment with <cpu> inside -->\n"
        "<domain type='kvm' id='3'>\n"
        "  <name>web&amp;1</name>\n"
        "  <cpu mode='custom' match='exact' check='partial'>\n"
        "    <model fallback='forbid'>Skylake-Client</model>\n"
        "    <feature policy='require' name='vmx'/>\n"
        "  </cpu>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/var/lib/libvirt/images/web&apos;1.qcow2' index='1'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        "    <disk type='block' device='disk'><source dev='/dev/sdb'/></disk>\n"
        "    <disk type=\"file\" device=\"cdrom\"><target dev='sda'/></disk>\n"
        "    <interface type='network'>\n"
        "      <source network='default' portid='x'/>\n"
        "    </interface>\n"
        "    <interface type='bridge'><source bridge='br0'/></interface>\n"
        "    <interface type='network'><source network='default'/></interface>\n"
        "    <interface type='network'><source network='storage&#45;net'/></interface>\n"
        "  </devices>\n"
        "  <seclabel type='none'><label><![CDATA[<source network='fake'/>]]></label></seclabel>\n"
        "</domain>\n";

static void test_full(void **state) {
        HvDomainXml x = {};

        assert_int_equal(hv_domain_xml_parse(full_xml, &x), 0);
        assert_string_equal(x.type, "kvm");
        assert_string_equal(x.cpu_mode, "custom");
        assert_non_null(x.cpu_xml);
        assert_true(strncmp(x.cpu_xml, "<cpu mode='custom'", 18) == 0);
        assert_non_null(strstr(x.cpu_xml, "Skylake-Client"));
        assert_true(strlen(x.cpu_xml) > 6 && streq(x.cpu_xml + strlen(x.cpu_xml) - 6, "</cpu>"));
        assert_int_equal(strv_length(x.networks), 2); /* deduplicated; bridges are not networks */
        assert_string_equal(x.networks[0], "default");
        assert_string_equal(x.networks[1], "storage-net");
        assert_int_equal(strv_length(x.file_disks), 1); /* block disks and sourceless cdroms not */
        assert_string_equal(x.file_disks[0], "/var/lib/libvirt/images/web'1.qcow2");
        hv_domain_xml_done(&x);
        hv_domain_xml_done(&x); /* idempotent */
}

static void test_tcg_no_cpu(void **state) {
        HvDomainXml x = {};
        const char *xml = "<domain type='qemu'><name>g1</name><memory unit='KiB'>131072</memory>"
                          "<devices><console type='pty'/><memballoon model='virtio'><stats period='2'/>"
                          "</memballoon></devices></domain>";

        assert_int_equal(hv_domain_xml_parse(xml, &x), 0);
        assert_string_equal(x.type, "qemu");
        assert_null(x.cpu_xml);
        assert_null(x.cpu_mode);
        assert_non_null(x.networks);
        assert_int_equal(strv_length(x.networks), 0);
        assert_int_equal(strv_length(x.file_disks), 0);
        hv_domain_xml_done(&x);
}

static void test_passthrough(void **state) {
        HvDomainXml x = {};
        const char *xml =
                "<domain type='kvm'><cpu mode='host-passthrough' check='none' migratable='on'/></domain>";

        assert_int_equal(hv_domain_xml_parse(xml, &x), 0);
        assert_string_equal(x.cpu_mode, "host-passthrough");
        assert_string_equal(x.cpu_xml, "<cpu mode='host-passthrough' check='none' migratable='on'/>");
        hv_domain_xml_done(&x);
}

static void test_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "<notdomain/>",
                "<domain type='kvm'>",
                "<domain type='kvm'></devices>",
                "<domain type='kvm><cpu/></domain>",
                "<domain type='kvm'><devices><interface type='network'><source network='a&bogus;'/></interface></devices></domain>",
                "<domain type='kvm'><devices><interface type='network'><source network=x/></interface></devices></domain>",
                "<domain type='kvm'/><domain type='kvm'/>",
                "<domain type='kvm'><!-- unterminated </domain>",
                "<domain type='kvm'><devices><interface type='network'><source network='&#0;'/></interface></devices></domain>",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                HvDomainXml x = {};
                assert_int_equal(hv_domain_xml_parse(bad[i], &x), -EBADMSG);
                assert_null(x.type);
        }
        HvDomainXml x = {};
        assert_int_equal(hv_domain_xml_parse(NULL, &x), -EINVAL);
}

static void test_deep(void **state) {
        char buf[4096] = "<domain type='kvm'>";
        size_t n = strlen(buf);
        HvDomainXml x = {};

        for (int i = 0; i < 100; i++) {
                memcpy(buf + n, "<a>", 4);
                n += 3;
        }
        assert_int_equal(hv_domain_xml_parse(buf, &x), -EBADMSG);
}

static void test_disks(void **state) {
        HvDomainXml x = {};
        const char *xml =
                "<domain type='qemu'><devices>\n"
                "  <disk type='file' device='disk'>\n"
                "    <driver name='qemu' type='qcow2' cache='none'/>\n"
                "    <source file='/var/lib/libvirt/local/d1.qcow2' index='2'/>\n"
                "    <backingStore/>\n"
                "    <target dev='vda' bus='virtio'/>\n"
                "  </disk>\n"
                "  <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                "<source file='/iso/x.iso'/><target dev='sda' bus='sata'/><readonly/></disk>\n"
                "  <disk type='file' device='disk'><source file='/s/shared.raw'/><target dev='vdb'/>"
                "<shareable/></disk>\n"
                "  <disk type='file' device='disk'><target dev='vdc'/></disk>\n"
                "  <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdd'/></disk>\n"
                "  <disk type='file' device='disk'><source file='/d/e&amp;f.img'/><target dev='vde'/></disk>\n"
                "</devices></domain>";

        assert_int_equal(hv_domain_xml_parse(xml, &x), 0);
        assert_int_equal(x.n_disks, 4); /* no source: not listed; block disks: not file disks */
        assert_string_equal(x.disks[0].target, "vda");
        assert_string_equal(x.disks[0].path, "/var/lib/libvirt/local/d1.qcow2");
        assert_string_equal(x.disks[0].format, "qcow2");
        assert_string_equal(x.disks[0].device, "disk");
        assert_string_equal(x.disks[0].cache, "none");
        assert_null(x.disks[3].cache);
        assert_true(hv_disk_is_movable(&x.disks[0]));
        assert_string_equal(x.disks[1].target, "sda");
        assert_true(x.disks[1].readonly);
        assert_false(hv_disk_is_movable(&x.disks[1]));
        assert_true(x.disks[2].shareable);
        assert_false(hv_disk_is_movable(&x.disks[2]));
        assert_string_equal(x.disks[3].path, "/d/e&f.img");
        assert_null(x.disks[3].format);
        assert_true(hv_disk_is_movable(&x.disks[3]));
        assert_int_equal(strv_length(x.file_disks), 4);
        hv_domain_xml_done(&x);
        assert_int_equal(x.n_disks, 0);
}

static void test_volume_xml(void **state) {
        char *x = NULL;

        assert_int_equal(hv_volume_xml("d1.qcow2", 33554432, "qcow2", &x), 0);
        assert_string_equal(
                x, "<volume>\n  <name>d1.qcow2</name>\n  <capacity unit='bytes'>33554432</capacity>\n"
                   "  <allocation unit='bytes'>0</allocation>\n"
                   "  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n");
        free(x);
        assert_int_equal(hv_volume_xml("a<b>&'\"", 1, NULL, &x), 0);
        assert_non_null(strstr(x, "<name>a&lt;b&gt;&amp;&apos;&quot;</name>"));
        assert_non_null(strstr(x, "<format type='raw'/>"));
        free(x);
        assert_int_equal(hv_volume_xml("a/b", 1, "raw", &x), -EINVAL);
        assert_int_equal(hv_volume_xml("", 1, "raw", &x), -EINVAL);
        assert_int_equal(hv_volume_xml("a", 1, "qcow2'/><x", &x), -EINVAL);

        assert_int_equal(hv_copy_dest_xml("/var/lib/libvirt/shared/d'1.qcow2", "qcow2", &x), 0);
        assert_string_equal(
                x, "<disk type='file'>\n  <source file='/var/lib/libvirt/shared/d&apos;1.qcow2'/>\n"
                   "  <driver type='qcow2'/>\n</disk>\n");
        free(x);
        assert_int_equal(hv_copy_dest_xml("relative", "raw", &x), -EINVAL);

        /* The scanner reads back what the builder writes. */
        HvDomainXml d = {};
        assert_int_equal(hv_copy_dest_xml("/p/a&b.img", NULL, &x), 0);
        _cleanup_free_ char *dom = NULL;
        assert_true(asprintf(&dom, "<domain type='qemu'><devices>%s</devices></domain>", x) > 0);
        free(x);
        assert_int_equal(hv_domain_xml_parse(dom, &d), 0);
        assert_int_equal(d.n_disks, 1);
        assert_string_equal(d.disks[0].path, "/p/a&b.img");
        assert_string_equal(d.disks[0].format, "raw");
        hv_domain_xml_done(&d);
}

static void test_pool_for_path(void **state) {
        const char *targets[] = {"/var/lib/libvirt/local", "/var/lib/libvirt/shared/", NULL, "/"};

        assert_int_equal(hv_pool_for_path("/var/lib/libvirt/local/d1.qcow2", targets, 4), 0);
        assert_int_equal(hv_pool_for_path("/var/lib/libvirt/shared/d1.qcow2", targets, 4), 1);
        assert_int_equal(hv_pool_for_path("/var/lib/libvirt/local/sub/d1.qcow2", targets, 4), -ENOENT);
        assert_int_equal(hv_pool_for_path("/var/lib/libvirt/localx/d1.qcow2", targets, 4), -ENOENT);
        assert_int_equal(hv_pool_for_path("/d1.qcow2", targets, 4), 3);
        assert_int_equal(hv_pool_for_path("/d1.qcow2", targets, 2), -ENOENT);
        assert_int_equal(hv_pool_for_path("d1.qcow2", targets, 4), -EINVAL);
}

static void test_local_disk_mib(void **state) {
        char *m_local1[] = {(char *) ".drs-pool-a1", NULL}, *m_local2[] = {(char *) ".drs-pool-b1", NULL},
             *m_shared1[] = {(char *) ".drs-pool-s1", NULL},
             *m_shared2[] = {(char *) ".drs-pool-s2", (char *) ".drs-pool-s1", NULL}, *none[] = {NULL};
        HvPool own[] = {
                {.name = (char *) "local", .target = (char *) "/var/lib/libvirt/local", .markers = m_local1},
                {.name = (char *) "shared",
                 .target = (char *) "/var/lib/libvirt/shared/",
                 .markers = m_shared1},
                {.name = (char *) "iscsi", .target = NULL, .markers = none},
        };
        /* h2 has a look-alike local pool (same path, other markers) and the shared one. */
        HvPool h2[] = {
                {.name = (char *) "local", .target = (char *) "/var/lib/libvirt/local", .markers = m_local2},
                {.name = (char *) "shared",
                 .target = (char *) "/var/lib/libvirt/shared",
                 .markers = m_shared2},
        };
        HvPool h3[] = {
                {.name = (char *) "local", .target = (char *) "/var/lib/libvirt/local", .markers = m_local2},
        };
        HvDiskUse local = {.path = (char *) "/var/lib/libvirt/local/a.qcow2", .allocation_bytes = 3 << 20};
        HvDiskUse shared = {.path = (char *) "/var/lib/libvirt/shared/b.qcow2", .allocation_bytes = 5 << 20};
        HvDiskUse nopool = {.path = (char *) "/srv/c.raw", .allocation_bytes = 1};
        HvDiskUse both[] = {local, shared};
        const HvPool *o2[] = {h2}, *o23[] = {h2, h3};
        size_t n2[] = {2}, n23[] = {2, 1};

        assert_int_equal(hv_local_disk_mib(&local, 1, own, 3, o2, n2, 1), 3);
        assert_int_equal(hv_local_disk_mib(&shared, 1, own, 3, o2, n2, 1), 0);
        assert_int_equal(hv_local_disk_mib(both, 2, own, 3, o2, n2, 1), 3);
        /* h3 does not see the shared pool: it counts. */
        assert_int_equal(hv_local_disk_mib(both, 2, own, 3, o23, n23, 2), 8);
        /* In no pool: local; rounded up to whole MiB. */
        assert_int_equal(hv_local_disk_mib(&nopool, 1, own, 3, o2, n2, 1), 1);
        /* No other host: nothing needs copying anywhere. */
        assert_int_equal(hv_local_disk_mib(&local, 1, own, 3, NULL, NULL, 0), 0);
        assert_int_equal(hv_local_disk_mib(NULL, 0, own, 3, o2, n2, 1), 0);

        /* Copies. */
        HvPool *pc = NULL;
        HvDiskUse *dc = NULL;
        assert_int_equal(hv_pools_copy(own, 3, &pc), 0);
        assert_string_equal(pc[1].target, "/var/lib/libvirt/shared/");
        assert_null(pc[2].target);
        assert_string_equal(pc[0].markers[0], ".drs-pool-a1");
        hv_pools_free(pc, 3);
        assert_int_equal(hv_disk_uses_copy(both, 2, &dc), 0);
        assert_string_equal(dc[1].path, shared.path);
        assert_int_equal(dc[1].allocation_bytes, 5 << 20);
        hv_disk_uses_free(dc, 2);
}

static void test_stats_copy(void **state) {
        HvDomainStats d[2] = {{.name = (char *) "a", .cpu_time_ns = 5}, {.name = (char *) "b", .vcpus = 2}};
        HvHostStats s = {.t_usec = 7, .cpus = 4, .domains = d, .n_domains = 2}, c = {};

        assert_int_equal(hv_host_stats_copy(&s, &c), 0);
        assert_int_equal(c.n_domains, 2);
        assert_ptr_not_equal(c.domains, d);
        assert_string_equal(c.domains[0].name, "a");
        assert_ptr_not_equal(c.domains[0].name, d[0].name);
        assert_int_equal(c.domains[0].cpu_time_ns, 5);
        assert_int_equal(c.domains[1].vcpus, 2);
        assert_int_equal(c.t_usec, 7);
        hv_host_stats_done(&c);
        assert_null(c.domains);
        hv_host_stats_done(NULL);
        assert_true(hv_now_usec() > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full),          cmocka_unit_test(test_tcg_no_cpu),
                cmocka_unit_test(test_passthrough),   cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_deep),          cmocka_unit_test(test_stats_copy),
                cmocka_unit_test(test_disks),         cmocka_unit_test(test_volume_xml),
                cmocka_unit_test(test_pool_for_path), cmocka_unit_test(test_local_disk_mib),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
