/*
 * stress.c: StressChaos. Its YAML half (the spec and stressors tables) and its runtime half: stress-ng's CPU
 * workers and memStress inside the target container's cgroup, as chaos-daemon starts them:
 *   - Stressors.Normalize() skips a stressor with workers <= 0;
 *   - memory `size` is the total across the workers (memStress splits it, commit 37c1719), in go-humanize
 *     units; "N%" is of the HOST's memory (gopsutil MemTotal, chaos-mesh #4547), not of the pod's limit.
 */
#include "sim/chaosmesh/reader.h"

#include <stdio.h>
#include <string.h>

#include "base/units.h"
#include "sim/input/goparse.h"

/* ---- the YAML half ---- */

enum { C_WORKERS, C_LOAD, C_OPTIONS };
static const cm_field cpu_fields[] = {
    [C_WORKERS] = {"workers", CM_INT, CM_REQUIRED, .lo = INT64_MIN, .hi = 8192},
    [C_LOAD] = {"load", CM_INT, 0, .lo = 0, .hi = 100, .def = 100},
    [C_OPTIONS] = {"options", CM_ANY}, /* extra stress-ng arguments: refused when given (check_options) */
};
static const cm_schema cpu_schema = CM_SCHEMA(cpu_fields, NULL);

enum { M_WORKERS, M_SIZE, M_OOM_ADJ, M_OPTIONS };
static const cm_field memory_fields[] = {
    [M_WORKERS] = {"workers", CM_INT, CM_REQUIRED, .lo = INT64_MIN, .hi = 8192},
    [M_SIZE] = {"size", CM_STR},
    [M_OOM_ADJ] = {"oomScoreAdj", CM_INT, 0, .lo = -1000, .hi = 1000},
    [M_OPTIONS] = {"options", CM_ANY},
};
static const cm_schema memory_schema = CM_SCHEMA(memory_fields, NULL);

enum { ST_CPU, ST_MEMORY };
static const cm_field stressors_fields[] = {
    [ST_CPU] = {"cpu", CM_MAP, CM_NONNULL, .sub = &cpu_schema},
    [ST_MEMORY] = {"memory", CM_MAP, CM_NONNULL, .sub = &memory_schema},
};
static const cm_schema stressors_schema = CM_SCHEMA(stressors_fields, NULL);

enum { S_DURATION, S_MODE, S_VALUE, S_SELECTOR, S_CONTAINERS, S_STRESSORS, S_FIELDS };
static const cm_field stress_fields[] = {
    [S_DURATION] = {"duration", CM_STR},
    [S_MODE] = CM_FIELD_MODE,
    [S_VALUE] = CM_FIELD_VALUE,
    [S_SELECTOR] = CM_FIELD_SELECTOR,
    [S_CONTAINERS] = CM_FIELD_CONTAINERS,
    /* absent: the webhook's "missing stressors" (stress_resolve) */
    [S_STRESSORS] = {"stressors", CM_MAP, CM_NONNULL, .sub = &stressors_schema},
};
static const char *const stress_unsupported[] = {
    "stressngStressors|raw stress-ng arguments are not modelled (use stressors.cpu / stressors.memory)",
    "remoteCluster|one cluster", NULL};
static const cm_schema stress_schema = CM_SCHEMA(stress_fields, stress_unsupported);

/* ---- the runtime half ---- */

static int check_options(cm_reader *r, const yt_node *stressor, const char *path, const char *what) {
    const yt_node *opt = yt_get(stressor, "options");
    if (opt && opt->type == YT_SEQ && opt->n)
        return yt_fail(&r->c, opt, "%s.options: not supported by the simulator (extra %s arguments)", path, what);
    return 0;
}

static int resolve_cpu(cm_reader *r, const yt_node *cpu, const char *cp, cm_action *ca, char *what, size_t whatlen) {
    cm_value v[3];
    cm_read(cpu, &cpu_schema, v);
    if (check_options(r, cpu, cp, "stress-ng") < 0) return -1;
    int64_t workers = v[C_WORKERS].i, load = v[C_LOAD].i;
    if (workers <= 0) {
        cm_add_note(r, 1, "%s.workers %lld: Stressors.Normalize() skips the CPU stressor (nothing runs)", cp,
                    (long long)workers);
    } else if (workers > 64) {
        return yt_fail(&r->c, v[C_WORKERS].node, "%s.workers: not supported by the simulator above 64", cp);
    } else {
        ca->a.cpu_workers = (int)workers;
        ca->a.cpu_load = (int)load;
        if (!v[C_LOAD].present) cm_add_note(r, 0, "%s.load unset: stress-ng runs its default, 100 %%", cp);
        if (load == 0) cm_add_note(r, 1, "%s.load 0: the workers only sleep", cp);
        snprintf(what, whatlen, "CPU %lld workers x %lld %%", (long long)workers, (long long)load);
    }
    return 0;
}

/* memory.size: go-humanize bytes, or "N%" of the host's memory. */
static int memory_bytes(cm_reader *r, const yt_node *sn, const char *sp, cm_action *ca, int64_t *bytes) {
    const char *size = sn->value;
    size_t len = strlen(size);
    char e[200];
    if (size[len - 1] != '%') {
        if (go_units_size_ok(size, e, sizeof e) < 0)
            return cm_wfail(r, sn, "%s: Invalid value: \"%s\": incorrect bytes format: %s", sp, size, e);
        if (go_humanize_bytes(size, bytes, e, sizeof e) < 0)
            return yt_fail(&r->c, sn, "%s: \"%s\": memStress cannot parse it: %s", sp, size, e);
        return 0;
    }
    char num[32];
    snprintf(num, sizeof num, "%.*s", (int)(len - 1), size);
    int64_t pct;
    if (go_atoi(num, &pct, e, sizeof e) < 0)
        return cm_wfail(r, sn, "%s: Invalid value: \"%s\": incorrect bytes format: %s", sp, size, e);
    if (pct < 0 || pct > 100)
        return cm_wfail(r, sn, "%s: Invalid value: \"%s\": incorrect bytes format: illegal proportion", sp, size);
    int64_t host = r->env->m->spec.node_memory_bytes;
    *bytes = host / 100 * pct;
    ca->mem_percent = 1;
    cm_add_note(r, 1,
                "%s \"%s\" is a share of the HOST's memory (gopsutil MemTotal, %.0f MiB on this node), not of "
                "the pod's limit (chaos-mesh #4547): %.1f MiB",
                sp, size, (double)host / MIB_F, (double)*bytes / MIB_F);
    return 0;
}

static int resolve_memory(cm_reader *r, const yt_node *mem, const char *mp, cm_action *ca, char *what, size_t whatlen) {
    cm_value v[4];
    cm_read(mem, &memory_schema, v);
    if (check_options(r, mem, mp, "memStress") < 0) return -1;
    int64_t workers = v[M_WORKERS].i, bytes = 0;
    const char *size = v[M_SIZE].s;
    char sp[300];
    yt_pathf(sp, sizeof sp, "%s.size", mp);
    if (size && *size) {
        if (memory_bytes(r, v[M_SIZE].node, sp, ca, &bytes) < 0) return -1;
    } else if (workers > 0) {
        return yt_fail(&r->c, mem,
                       "%s: not supported by the simulator without a size (memStress would fill the "
                       "host's available memory)",
                       sp);
    }
    if (workers <= 0) {
        cm_add_note(r, 1, "%s.workers %lld: Stressors.Normalize() skips the memory stressor (nothing runs)", mp,
                    (long long)workers);
        return 0;
    }
    if (workers > 16)
        return yt_fail(&r->c, v[M_WORKERS].node, "%s.workers: not supported by the simulator above 16", mp);
    ca->a.mem_workers = (int)workers;
    ca->a.mem_bytes = bytes;
    if (v[M_OOM_ADJ].present && v[M_OOM_ADJ].i != 0) {
        ca->has_oom_adj = 1;
        ca->oom_score_adj = v[M_OOM_ADJ].i;
    }
    size_t k = strlen(what);
    snprintf(what + k, whatlen - k, "%smemory %s (%.1f MiB) in %lld workers", k ? " + " : "", size,
             (double)bytes / MIB_F, (long long)workers);
    if (workers > 1)
        cm_add_note(r, 0,
                    "%s: `size` is the TOTAL across the %lld workers (memStress splits it, commit 37c1719): "
                    "%.1f MiB each, not %s each",
                    mp, (long long)workers, (double)bytes / workers / MIB_F, size);
    return 0;
}

static int stress_resolve(cm_reader *r, const yt_node *spec, const char *path, int64_t duration, cm_action *ca) {
    (void)duration;
    cm_value v[S_FIELDS];
    cm_read(spec, &stress_schema, v);
    char who[200];
    if (cm_resolve_selection(r, spec, path, &ca->a.selector, who, sizeof who) < 0 ||
        cm_resolve_containers(r, spec, path, &ca->a.selector, 0, "stress") < 0)
        return -1;
    const yt_node *st = v[S_STRESSORS].node;
    char full[256];
    yt_pathf(full, sizeof full, "%s.stressors", path);
    if (!st) return cm_wfail(r, spec, "%s: Invalid value: null: missing stressors", path);
    const yt_node *cpu = yt_get(st, "cpu"), *mem = yt_get(st, "memory");
    if (!cpu && !mem) return cm_wfail(r, st, "%s: Invalid value: {}: missing stressors", full);
    char what[240] = "", sub[280];
    ca->a.kind = ACT_STRESS;
    yt_pathf(sub, sizeof sub, "%s.cpu", full);
    if (cpu && resolve_cpu(r, cpu, sub, ca, what, sizeof what) < 0) return -1;
    yt_pathf(sub, sizeof sub, "%s.memory", full);
    if (mem && resolve_memory(r, mem, sub, ca, what, sizeof what) < 0) return -1;
    snprintf(ca->says, sizeof ca->says, "%s on %s", what[0] ? what : "nothing", who);
    return 0;
}

const cm_chaos_kind cm_stress_chaos = {"StressChaos", "stressChaos", "vstresschaos.kb.io", &stress_schema,
                                       stress_resolve};
