/*
 * main-loop/monitor/families.h - the families of monitor commands.
 *
 * Each family is one file that registers its commands with the core
 * (monitor_register_commands()) from its register function, and installs
 * the hooks its events need.  monitor_init() (monitor.c) calls each once;
 * nothing else includes this header, so the core never depends on a
 * family.  To add a family: a qmp-FAMILY.c with qmp_FAMILY_register(),
 * declared here and called from monitor_init().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MONITOR_FAMILIES_H
#define MAIN_LOOP_MONITOR_FAMILIES_H

/** qmp_control_register: query-name, query-version, query-commands, quit. */
void qmp_control_register(void);

/** qmp_qcontext_register: query-qcontexts. */
void qmp_qcontext_register(void);

/** qmp_device_register: query-devices, device-set-context, device events. */
void qmp_device_register(void);

/** qmp_qom_register: qom-list/get/set, qom-list-get, object-add, object-del. */
void qmp_qom_register(void);

/**
 * qmp_introspect_register: qom-list-types, qom-list-properties,
 * device-list-properties, query-qmp-schema.
 */
void qmp_introspect_register(void);

#endif /* MAIN_LOOP_MONITOR_FAMILIES_H */
