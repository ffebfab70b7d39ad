/*
 * schedule.c: Schedule. Its YAML half (the spec table) and its runtime half, the cron controller: robfig
 * cron ticks after the creation time, the first `schedule_cycles` simulated; each tick creates the spec
 * (a chaos object, or a Workflow) as a child; Forbid (the default) skips a tick while a child runs and, as
 * the controller then returns without requeueing, the schedule stays stuck (chaos-mesh #2984, #4470);
 * startingDeadlineSeconds 0 misses every tick.
 */
#include "sim/chaosmesh/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "sim/input/cron.h"

#define CM_MAX_CHILDREN 64

/* ---- the YAML half ---- */

static const char *const policies[] = {"Forbid", "Allow", NULL};
enum { POLICY_FORBID, POLICY_ALLOW };

enum {
    SC_SCHEDULE,
    SC_TYPE,
    SC_POLICY,
    SC_HISTORY,
    SC_DEADLINE,
    SC_NETWORK,
    SC_STRESS,
    SC_POD,
    SC_WORKFLOW,
    SC_FIELDS
};
static const cm_field schedule_fields[] = {
    [SC_SCHEDULE] = {"schedule", CM_STR, CM_REQUIRED}, /* cron, as robfig/cron parses it */
    [SC_TYPE] = {"type", CM_STR, CM_REQUIRED},         /* a chaos kind or Workflow */
    [SC_POLICY] = {"concurrencyPolicy", CM_STR, CM_EMPTY_IS_DEFAULT, policies, .def = POLICY_FORBID},
    [SC_HISTORY] = {"historyLimit", CM_INT, 0, .lo = 0, .hi = INT32_MAX},
    [SC_DEADLINE] = {"startingDeadlineSeconds", CM_INT, 0, .lo = 0, .hi = INT64_MAX / SEC},
    /* the spec `type` names: its kind's table (or the Workflow's) */
    [SC_NETWORK] = {"networkChaos", CM_ANY},
    [SC_STRESS] = {"stressChaos", CM_ANY},
    [SC_POD] = {"podChaos", CM_ANY},
    [SC_WORKFLOW] = {"workflow", CM_ANY},
};
static const cm_schema schedule_schema = CM_SCHEMA(schedule_fields, cm_other_fields);

/* ---- the runtime half ---- */

typedef struct schedule {
    cm_value v[SC_FIELDS];
    cron_spec cron;
    const char *type;
    const yt_node *inner;      /* the spec each tick creates */
    const cm_chaos_kind *kind; /* NULL: a Workflow */
    cm_action tmpl;            /* a chaos kind's spec */
    int64_t duration;
    cm_workflow *w; /* a Workflow's */
    const char *entry;
    /* the ticks so far */
    int64_t first;
    int64_t child_end[CM_MAX_CHILDREN];
    int nchildren, spawned;
} schedule;

/* type: the kind of child, and its spec (checked and resolved once; each tick copies it). */
static int read_child(cm_reader *r, const yt_node *spec, schedule *s) {
    const yt_node *tn = s->v[SC_TYPE].node;
    s->kind = cm_chaos_kind_named(s->type);
    int is_workflow = !strcmp(s->type, "Workflow");
    if (!s->kind && !is_workflow) {
        if (cm_in_list(cm_other_kinds, s->type))
            return yt_fail(&r->c, tn, "spec.type: %s: not supported by the simulator", s->type);
        return cm_wfail(r, tn, "spec.type: Invalid value: \"%s\": unknown type", s->type);
    }
    const char *field = is_workflow ? "workflow" : s->kind->field;
    s->inner = yt_get(spec, field);
    char ip[64];
    snprintf(ip, sizeof ip, "spec.%s", field);
    if (!s->inner) return cm_wfail(r, spec, "%s: Invalid value: null: the value of chaos %s is required", ip, s->type);
    for (int k = 0; cm_chaos_kind_at(k); k++)
        if (strcmp(cm_chaos_kind_at(k)->field, field) && yt_get(spec, cm_chaos_kind_at(k)->field))
            cm_add_note(r, 1, "spec: type is %s but %s is also set; only %s is used", s->type,
                        cm_chaos_kind_at(k)->field, field);
    s->duration = -1;
    if (!is_workflow) return cm_chaos_spec(r, s->kind, s->inner, ip, 1, &s->tmpl, &s->duration);
    s->w = cm_workflow_new();
    if (yt_check_type(&r->c, spec, s->inner, ip, YK_MAP, 1) < 0) return -1;
    return cm_workflow_read(r, s->inner, ip, s->w, &s->entry);
}

/* The child a tick creates at `at`; returns when it ends (-1: never), or sets *rc. */
static int64_t create_child(cm_reader *r, schedule *s, int k, const char *when, int64_t at, int *rc) {
    char run[48], s0[32], s1[32];
    snprintf(run, sizeof run, "run-%d", k + 1);
    cm_fmt_s(at, s0, sizeof s0);
    if (!s->kind) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s/", run);
        cm_timeline(r, "tick %d at %s UTC (+%s): creates Workflow %s-%d", k + 1, when, s0, r->o->name, k + 1);
        return cm_workflow_expand(r, s->w, s->entry, at, prefix, rc);
    }
    int64_t end = s->duration >= 0 ? at + s->duration : -1;
    if (cm_instantiate(r, s->inner, &s->tmpl, run, at, end) < 0) {
        *rc = -1;
        return -1;
    }
    if (s->tmpl.one_shot) end = at; /* IsChaosFinished: one-shot actions finish once injected */
    if (end >= 0) cm_fmt_s(end, s1, sizeof s1);
    cm_timeline(r, "tick %d at %s UTC (+%s): creates %s %s-%d, %s%s", k + 1, when, s0, s->type, r->o->name, k + 1,
                end < 0            ? "which never ends (no duration)"
                : s->tmpl.one_shot ? "one-shot"
                                   : "active until +",
                end < 0 || s->tmpl.one_shot ? "" : s1);
    return end;
}

/* Tick k at calendar second t: 1 when the schedule stops here (a missed deadline, Forbid), else 0; *rc set
 * on an error. */
static int tick(cm_reader *r, schedule *s, int k, int64_t t, int *rc) {
    if (s->first < 0) s->first = t;
    int64_t at = (t - s->first) * SEC;
    char when[32], s0[32];
    cron_format_utc(t, when, sizeof when);
    cm_fmt_s(at, s0, sizeof s0);
    if (s->v[SC_DEADLINE].present && s->v[SC_DEADLINE].i == 0) {
        cm_timeline(r, "tick %d at %s UTC (+%s): missed (startingDeadlineSeconds 0)", k + 1, when, s0);
        cm_add_note(r, 1,
                    "startingDeadlineSeconds 0: the controller wakes a few ms after each tick, later than the "
                    "deadline, so it records MissSchedule and returns without requeueing: the schedule never "
                    "creates an object");
        return 1;
    }
    int running = 0;
    for (int c = 0; c < s->nchildren; c++)
        if (s->child_end[c] < 0 || s->child_end[c] > at) running = 1;
    if (running && s->v[SC_POLICY].i != POLICY_ALLOW) {
        cm_timeline(r,
                    "tick %d at %s UTC (+%s): skipped (Forbid: the previous run is still active); the controller "
                    "returns without requeueing, so the schedule is stuck from here",
                    k + 1, when, s0);
        cm_add_note(r, 1,
                    "concurrencyPolicy Forbid: tick %d comes while the previous run is still active; it is skipped "
                    "and the cron controller returns without RequeueAfter, so no later tick runs until something "
                    "else updates the Schedule (chaos-mesh #2984, #4470)",
                    k + 1);
        return 1;
    }
    int64_t end = create_child(r, s, k, when, at, rc);
    if (*rc) return 1;
    if (s->nchildren < CM_MAX_CHILDREN) s->child_end[s->nchildren++] = end;
    s->spawned++;
    return 0;
}

static int run_ticks(cm_reader *r, schedule *s) {
    int64_t t = r->env->creation_unix_s;
    int rc = 0;
    s->first = -1;
    for (int k = 0; k < r->env->schedule_cycles && !rc; k++) {
        t = cron_next(&s->cron, t);
        if (t < 0) {
            cm_timeline(r, "no tick within five years of the creation");
            break;
        }
        if (tick(r, s, k, t, &rc)) break;
    }
    return rc;
}

static int schedule_resolve(cm_reader *r, const yt_node *spec, schedule *s) {
    const char *cron_text = s->v[SC_SCHEDULE].s;
    char e[300];
    if (cron_parse(cron_text, &s->cron, e, sizeof e) < 0)
        return cm_wfail(r, s->v[SC_SCHEDULE].node,
                        "spec.schedule: Invalid value: \"%s\": parse schedule field error:%s", cron_text, e);
    if (read_child(r, spec, s) < 0) return -1;
    if (!s->v[SC_HISTORY].present || s->v[SC_HISTORY].i == 0)
        cm_add_note(r, 0,
                    "historyLimit unset (0): the schedule-gc controller deletes every finished child at once, so "
                    "`kubectl get` never shows past runs");
    if (run_ticks(r, s) < 0) return -1;
    int allow = s->v[SC_POLICY].i == POLICY_ALLOW;
    if (!s->spawned) cm_add_note(r, 1, "the schedule creates no object in the simulated cycles");
    if (s->duration < 0 && s->kind && !s->tmpl.one_shot)
        cm_add_note(r, 1,
                    "scheduled %s without duration never finishes: with concurrencyPolicy Forbid (the default) no "
                    "further run is ever spawned",
                    s->type);
    if (s->spawned && allow)
        cm_add_note(r, 0,
                    "concurrencyPolicy Allow: runs may overlap; overlapping filtered NetworkChaos runs do not add up "
                    "(one netem per packet)");
    return 0;
}

int cm_schedule(cm_reader *r, const yt_node *spec) {
    r->webhook = "vschedule.kb.io";
    if (cm_check_map(&r->c, spec, "spec", &schedule_schema) < 0) return -1;
    schedule *s = calloc(1, sizeof *s);
    if (!s) abort();
    cm_read(spec, &schedule_schema, s->v);
    s->type = s->v[SC_TYPE].s;
    int rc = schedule_resolve(r, spec, s);
    cm_workflow_free(s->w);
    free(s);
    return rc;
}
