/*
 * labint.h: what the lab's C files share among themselves (not part of the lab's interface, lab.h).
 *
 * CPU and memory figures come from each pod's cgroups, named as lab/lab.sh creates them:
 *   /sys/fs/cgroup/cpu/pc-lab-<pod>             the pod's CFS quota (service and stressors together)
 *   /sys/fs/cgroup/cpuacct/pc-lab-<pod>/app     the service process's CPU time
 *   /sys/fs/cgroup/cpuacct/pc-lab-<pod>/stress  the stressors' CPU time
 *   /sys/fs/cgroup/memory/pc-lab-<pod>          the pod's memory limit (service and stressors together)
 * The pod list is LAB_DIR/pods, one name per line.
 */
#ifndef PC_LAB_LABINT_H
#define PC_LAB_LABINT_H

#include <stdint.h>

#include "lab/lab.h"
#include "sim/run/run.h"

#define LAB_MAX_PODS CLUSTER_MAX_PODS

typedef struct lab_pod_cpu {
    char pod[48];
    uint64_t periods, throttled;
    uint64_t throttled_ns, app_ns, stress_ns;
    int64_t mem_peak, mem_limit;
    uint64_t oom_kills;
} lab_pod_cpu;

typedef struct lab_cpu_snapshot {
    lab_pod_cpu pods[LAB_MAX_PODS];
    int n;
} lab_cpu_snapshot;

int64_t lab_clock_ns(void);
/* The hook's tab-separated lines: the next field of *cursor (cut in place; NULL after the last), and that
 * field as an unsigned number (0 when absent). */
char *lab_tab_field(char **cursor);
uint64_t lab_tab_u64(char **cursor);
/* Reads every pod's counters (missing files read as 0); `reset_peak`: restart the memory high-water mark. */
void lab_cpu_read(const char *lab_dir, lab_cpu_snapshot *s, int reset_peak);
void lab_fill_cpu(sim_result *r, const lab_cpu_snapshot *before, const lab_cpu_snapshot *after);
/* Runs `HOOK hook collect 0` and fills the ledger, the actions' realized counts, TCP and pod restarts. */
void lab_fill_from_hook(sim_result *r, const lab_config *cfg, const sim_result *pred);

#endif
