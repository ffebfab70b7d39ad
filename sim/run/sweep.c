/*
 * sweep.c: seed-range results as data, their statistics, the part format and the merge (see sweep.h).
 */
#include "sim/run/sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PART_FORMAT "payment-chaos sweep part 1"

static const char *const metric_names[SWEEP_METRICS] = {"baseline.success_rate",
                                                        "baseline.p50_ms",
                                                        "baseline.p99_ms",
                                                        "chaos.success_rate",
                                                        "chaos.p50_ms",
                                                        "chaos.p99_ms",
                                                        "recovery.success_rate",
                                                        "recovery.p50_ms",
                                                        "recovery.p99_ms",
                                                        "recovery_s",
                                                        "chaos.timeouts",
                                                        "chaos.inventory.success",
                                                        "chaos.notification.success"};
static const char *const mode_names[] = {"seeds", "experiments", "find-violation"};

const char *sweep_metric_name(int m) { return m >= 0 && m < SWEEP_METRICS ? metric_names[m] : "?"; }

int sweep_shard_range(uint64_t first, uint64_t last, int shard, int nshards, uint64_t *lo, uint64_t *hi) {
    uint64_t n = last - first + 1;
    /* n <= 10^6 + 1 and nshards <= 10^4: the products fit */
    uint64_t a = n * (uint64_t)shard / (uint64_t)nshards, b = n * (uint64_t)(shard + 1) / (uint64_t)nshards;
    if (b <= a) return -1;
    *lo = first + a;
    *hi = first + b - 1;
    return 0;
}

char *sweep_strdup(const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) abort();
    return d;
}

sim_sweep *sweep_new(sweep_mode mode, uint64_t first, uint64_t last, uint64_t lo, uint64_t hi, int nunits) {
    sim_sweep *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->mode = mode;
    s->first = first;
    s->last = last;
    s->lo = lo;
    s->hi = hi;
    s->nshards = 1;
    s->nunits = nunits;
    s->units = calloc((size_t)(nunits > 0 ? nunits : 1), sizeof *s->units);
    if (!s->units) abort();
    for (int u = 0; u < nunits; u++) {
        s->units[u].runs = calloc((size_t)(hi - lo + 1), sizeof *s->units[u].runs);
        if (!s->units[u].runs) abort();
    }
    return s;
}

uint64_t sweep_count(const sim_sweep *s) { return s->hi - s->lo + 1; }

void sweep_free(sim_sweep *s) {
    if (!s) return;
    for (int u = 0; u < s->nunits; u++) {
        sweep_unit *un = &s->units[u];
        if (un->runs)
            for (uint64_t i = 0; i < sweep_count(s); i++) {
                free(un->runs[i].what);
                free(un->runs[i].reproduce);
            }
        free(un->runs);
        free(un->header);
        free(un->name);
        for (int e = 0; e < un->nexpects; e++) free(un->expects[e]);
        free(un->expects);
    }
    free(s->units);
    free(s->faults);
    free(s->command);
    free(s->found_what);
    free(s->found_reproduce);
    free(s);
}

/* ---- statistics ---- */

/* Two-sided 97.5 % t quantile for n - 1 degrees of freedom (table, then the normal limit). */
static double t975(size_t n) {
    static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
    size_t df = n > 1 ? n - 1 : 1;
    if (df < sizeof t / sizeof t[0]) return t[df];
    if (df < 40) return 2.03;
    if (df < 120) return 2.0;
    return 1.96;
}

void sweep_metric_stat(const sim_sweep *s, const sweep_unit *u, int m, sweep_stat *out) {
    uint64_t n = sweep_count(s);
    double sum = 0, sq = 0;
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        double v = u->runs[i].metrics[m];
        if (m == SWEEP_RECOVERY_METRIC && v < 0) continue; /* not recovered: counted apart */
        sum += v;
        k++;
    }
    double mean = k ? sum / (double)k : 0;
    for (uint64_t i = 0; i < n; i++) {
        double v = u->runs[i].metrics[m];
        if (m == SWEEP_RECOVERY_METRIC && v < 0) continue;
        sq += (v - mean) * (v - mean);
    }
    double sd = k > 1 ? sqrt(sq / (double)(k - 1)) : 0;
    double half = k > 1 ? t975(k) * sd / sqrt((double)k) : 0;
    out->mean = mean;
    out->low = mean - half;
    out->high = mean + half;
    out->sd = sd;
    out->n = k;
}

/* ---- writing a part ---- */

/* A JSON string literal (UTF-8 passes through; quotes, backslashes and control characters escaped). */
static void put_string(FILE *out, const char *text) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* A double that reads back as exactly the same bits: 17 significant digits; -0, infinities and NaN as strings
 * (JSON has no literal for them, and jansson reads "-0" as the integer 0). */
static void put_real(FILE *out, double v) {
    if (isnan(v))
        fputs("\"nan\"", out);
    else if (isinf(v))
        fputs(v > 0 ? "\"inf\"" : "\"-inf\"", out);
    else if (v == 0 && signbit(v))
        fputs("\"-0\"", out);
    else
        fprintf(out, "%.17g", v);
}

static void write_unit(const sim_sweep *s, const sweep_unit *u, FILE *out) {
    fputs("    {\"name\": ", out);
    put_string(out, u->name);
    fputs(", \"header\": ", out);
    put_string(out, u->header);
    fputs(",\n     \"expectations\": [", out);
    for (int e = 0; e < u->nexpects; e++) {
        if (e) fputs(", ", out);
        put_string(out, u->expects[e]);
    }
    fputs("],\n     \"runs\": [", out);
    for (uint64_t i = 0; i < sweep_count(s); i++) {
        const sweep_run *r = &u->runs[i];
        fprintf(out, "%s\n      [%d, %d, \"%" PRIx64 "\"", i ? "," : "", r->violation, r->failed_expectations,
                r->passed_bits);
        for (int m = 0; m < SWEEP_METRICS; m++) {
            fputs(", ", out);
            put_real(out, r->metrics[m]);
        }
        fputs("]", out);
    }
    fputs("],\n     \"violations\": [", out);
    int first = 1;
    for (uint64_t i = 0; i < sweep_count(s); i++) {
        const sweep_run *r = &u->runs[i];
        if (!r->violation) continue;
        fprintf(out, "%s\n      {\"seed\": \"%" PRIu64 "\", \"at_ns\": %" PRId64 ", \"what\": ", first ? "" : ",",
                s->lo + i, r->at_ns);
        put_string(out, r->what);
        fputs(", \"reproduce\": ", out);
        put_string(out, r->reproduce);
        fputs("}", out);
        first = 0;
    }
    fputs("]}", out);
}

int sweep_write_part(const sim_sweep *s, FILE *out) {
    fprintf(out,
            "{\"format\": \"" PART_FORMAT "\", \"mode\": \"%s\",\n \"first\": \"%" PRIu64 "\", \"last\": \"%" PRIu64
            "\", \"lo\": \"%" PRIu64 "\", \"hi\": \"%" PRIu64 "\", \"shard\": %d, \"shards\": %d,\n \"faults\": ",
            mode_names[s->mode], s->first, s->last, s->lo, s->hi, s->shard, s->nshards);
    put_string(out, s->faults);
    fputs(",\n \"command\": ", out);
    put_string(out, s->command);
    fprintf(out, ",\n \"find\": {\"runs\": \"%" PRIu64 "\", \"violation\": ", s->find_runs);
    if (s->found) {
        fprintf(out, "{\"seed\": \"%" PRIu64 "\", \"at_ns\": %" PRId64 ", \"what\": ", s->found_seed, s->found_at_ns);
        put_string(out, s->found_what);
        fputs(", \"reproduce\": ", out);
        put_string(out, s->found_reproduce);
        fputs("}", out);
    } else {
        fputs("null", out);
    }
    fputs("},\n \"units\": [", out);
    for (int u = 0; u < s->nunits; u++) {
        fputs(u ? ",\n" : "\n", out);
        write_unit(s, &s->units[u], out);
    }
    fputs("]}\n", out);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* ---- reading a part ---- */

typedef struct reader {
    const char *path;
    char *err;
    size_t errlen;
} reader;

static int fail(reader *rd, const char *fmt, const char *what) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what);
    snprintf(rd->err, rd->errlen, "%s: %s", rd->path, msg);
    return -1;
}

static int get_u64(reader *rd, json_t *obj, const char *key, uint64_t *out) {
    const char *t = json_string_value(json_object_get(obj, key));
    char *end;
    if (!t || !*t) return fail(rd, "\"%s\" missing or not a decimal string", key);
    errno = 0;
    unsigned long long v = strtoull(t, &end, 10);
    if (errno || *end || *t == '-') return fail(rd, "\"%s\" is not a decimal seed", key);
    *out = v;
    return 0;
}

static int get_str(reader *rd, json_t *obj, const char *key, char **out) {
    const char *t = json_string_value(json_object_get(obj, key));
    if (!t) return fail(rd, "\"%s\" missing or not a string", key);
    *out = sweep_strdup(t);
    return 0;
}

static int get_real(reader *rd, json_t *v, double *out) {
    const char *t = json_string_value(v);
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (t && !strcmp(t, "nan"))
        *out = NAN;
    else if (t && !strcmp(t, "inf"))
        *out = INFINITY;
    else if (t && !strcmp(t, "-inf"))
        *out = -INFINITY;
    else if (t && !strcmp(t, "-0"))
        *out = -0.0;
    else
        return fail(rd, "%s", "a run's metric is not a number");
    return 0;
}

static int read_run(reader *rd, json_t *row, sweep_run *r) {
    char *end;
    const char *bits = json_string_value(json_array_get(row, 2));
    if (!json_is_array(row) || json_array_size(row) != 3 + SWEEP_METRICS || !json_is_integer(json_array_get(row, 0)) ||
        !json_is_integer(json_array_get(row, 1)) || !bits)
        return fail(rd, "%s", "a run is not [violation, failed, \"bits\", 13 metrics]");
    r->violation = json_integer_value(json_array_get(row, 0)) != 0;
    r->failed_expectations = (int)json_integer_value(json_array_get(row, 1));
    errno = 0;
    r->passed_bits = strtoull(bits, &end, 16);
    if (errno || *end) return fail(rd, "%s", "a run's expectation bits are not hexadecimal");
    for (int m = 0; m < SWEEP_METRICS; m++)
        if (get_real(rd, json_array_get(row, (size_t)(3 + m)), &r->metrics[m]) < 0) return -1;
    r->done = 1;
    return 0;
}

static int read_violations(reader *rd, const sim_sweep *s, json_t *list, sweep_unit *u) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        uint64_t seed;
        if (get_u64(rd, v, "seed", &seed) < 0) return -1;
        if (seed < s->lo || seed > s->hi || !u->runs[seed - s->lo].violation)
            return fail(rd, "%s", "a violation names a seed without one");
        sweep_run *r = &u->runs[seed - s->lo];
        r->at_ns = (int64_t)json_integer_value(json_object_get(v, "at_ns"));
        free(r->what);
        free(r->reproduce);
        r->what = r->reproduce = NULL;
        if (get_str(rd, v, "what", &r->what) < 0 || get_str(rd, v, "reproduce", &r->reproduce) < 0) return -1;
    }
    return 0;
}

static int read_unit(reader *rd, const sim_sweep *s, json_t *ju, sweep_unit *u) {
    json_t *ex = json_object_get(ju, "expectations"), *runs = json_object_get(ju, "runs"), *e;
    if (get_str(rd, ju, "name", &u->name) < 0 || get_str(rd, ju, "header", &u->header) < 0) return -1;
    if (!json_is_array(ex) || !json_is_array(runs) || !json_is_array(json_object_get(ju, "violations")))
        return fail(rd, "%s", "a unit lacks expectations, runs or violations");
    u->nexpects = (int)json_array_size(ex);
    u->expects = calloc((size_t)u->nexpects + 1, sizeof *u->expects);
    if (!u->expects) abort();
    size_t i;
    json_array_foreach(ex, i, e) {
        if (!json_is_string(e)) return fail(rd, "%s", "an expectation is not a string");
        u->expects[i] = sweep_strdup(json_string_value(e));
    }
    uint64_t want = s->mode == SWEEP_FIND ? 0 : sweep_count(s);
    if (json_array_size(runs) != want) return fail(rd, "%s", "the runs do not match the seeds lo..hi");
    json_array_foreach(runs, i, e) if (read_run(rd, e, &u->runs[i]) < 0) return -1;
    return read_violations(rd, s, json_object_get(ju, "violations"), u);
}

static int read_find(reader *rd, json_t *doc, sim_sweep *s) {
    json_t *find = json_object_get(doc, "find"), *v = json_object_get(find, "violation");
    if (!json_is_object(find) || get_u64(rd, find, "runs", &s->find_runs) < 0) return -1;
    if (json_is_null(v)) return 0;
    s->found = 1;
    s->found_at_ns = (int64_t)json_integer_value(json_object_get(v, "at_ns"));
    if (get_u64(rd, v, "seed", &s->found_seed) < 0 || get_str(rd, v, "what", &s->found_what) < 0 ||
        get_str(rd, v, "reproduce", &s->found_reproduce) < 0)
        return -1;
    return 0;
}

static int read_mode(reader *rd, json_t *doc, sweep_mode *mode) {
    const char *m = json_string_value(json_object_get(doc, "mode"));
    for (int k = 0; k < 3; k++)
        if (m && !strcmp(m, mode_names[k])) {
            *mode = (sweep_mode)k;
            return 0;
        }
    return fail(rd, "%s", "\"mode\" is not seeds, experiments or find-violation");
}

/* The sweep that one part holds; NULL with a message. */
static sim_sweep *read_part(reader *rd) {
    json_error_t jerr;
    json_t *doc = json_load_file(rd->path, 0, &jerr);
    if (!doc) {
        snprintf(rd->err, rd->errlen, "%s:%d: %s", rd->path, jerr.line, jerr.text);
        return NULL;
    }
    sim_sweep *s = NULL;
    uint64_t first, last, lo, hi;
    sweep_mode mode;
    json_t *units = json_object_get(doc, "units");
    const char *format = json_string_value(json_object_get(doc, "format"));
    json_int_t shard = json_integer_value(json_object_get(doc, "shard"));
    json_int_t nshards = json_integer_value(json_object_get(doc, "shards"));
    if (!format || strcmp(format, PART_FORMAT)) {
        fail(rd, "%s", "not a part of a sweep (bin/sim --seeds A..B --shard I/N writes them)");
    } else if (read_mode(rd, doc, &mode) == 0 && get_u64(rd, doc, "first", &first) == 0 &&
               get_u64(rd, doc, "last", &last) == 0 && get_u64(rd, doc, "lo", &lo) == 0 &&
               get_u64(rd, doc, "hi", &hi) == 0) {
        if (!json_is_array(units) || nshards < 1 || shard < 0 || shard >= nshards || last < first ||
            last - first > 1000000 || lo < first || hi > last || hi < lo)
            fail(rd, "%s", "inconsistent range, shard or units");
        else
            s = sweep_new(mode, first, last, lo, hi, (int)json_array_size(units));
    }
    int bad = !s;
    if (s) {
        s->shard = (int)shard;
        s->nshards = (int)nshards;
        bad = get_str(rd, doc, "faults", &s->faults) < 0 || get_str(rd, doc, "command", &s->command) < 0 ||
              read_find(rd, doc, s) < 0;
        for (int u = 0; u < s->nunits && !bad; u++)
            bad = read_unit(rd, s, json_array_get(units, (size_t)u), &s->units[u]) < 0;
    }
    json_decref(doc);
    if (bad) {
        sweep_free(s);
        return NULL;
    }
    return s;
}

/* ---- the merge ---- */

static int same_text(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* Does part p belong to the sweep that `whole` describes? */
static int check_part(reader *rd, const sim_sweep *whole, const sim_sweep *p) {
    uint64_t lo, hi;
    if (p->mode != whole->mode || p->first != whole->first || p->last != whole->last || p->nshards != whole->nshards)
        return fail(rd, "%s", "a part of another sweep (mode, seed range or number of shards differ)");
    if (!same_text(p->command, whole->command) || !same_text(p->faults, whole->faults) || p->nunits != whole->nunits)
        return fail(rd, "%s", "a part of another sweep (its command line differs)");
    if (sweep_shard_range(p->first, p->last, p->shard, p->nshards, &lo, &hi) < 0 || lo != p->lo || hi != p->hi)
        return fail(rd, "%s", "its seeds are not those of its shard index");
    for (int u = 0; u < p->nunits; u++) {
        const sweep_unit *a = &whole->units[u], *b = &p->units[u];
        int same = same_text(a->name, b->name) && same_text(a->header, b->header) && a->nexpects == b->nexpects;
        for (int e = 0; same && e < a->nexpects; e++) same = same_text(a->expects[e], b->expects[e]);
        if (!same) return fail(rd, "%s", "a part of another sweep (its chaos objects or expectations differ)");
    }
    return 0;
}

/* The whole sweep's frame, with part p's texts. */
static sim_sweep *frame_of(const sim_sweep *p) {
    sim_sweep *w = sweep_new(p->mode, p->first, p->last, p->first, p->last, p->nunits);
    w->nshards = p->nshards;
    w->faults = sweep_strdup(p->faults);
    w->command = sweep_strdup(p->command);
    for (int u = 0; u < p->nunits; u++) {
        const sweep_unit *src = &p->units[u];
        sweep_unit *dst = &w->units[u];
        dst->name = sweep_strdup(src->name);
        dst->header = sweep_strdup(src->header);
        dst->nexpects = src->nexpects;
        dst->expects = calloc((size_t)src->nexpects + 1, sizeof *dst->expects);
        if (!dst->expects) abort();
        for (int e = 0; e < src->nexpects; e++) dst->expects[e] = sweep_strdup(src->expects[e]);
    }
    return w;
}

/* Moves part p's runs (and its violation, for --find-violation) into the whole sweep. */
static void take_part(sim_sweep *w, sim_sweep *p) {
    if (w->mode != SWEEP_FIND)
        for (int u = 0; u < p->nunits; u++) {
            memcpy(&w->units[u].runs[p->lo - w->first], p->units[u].runs, sweep_count(p) * sizeof(sweep_run));
            memset(p->units[u].runs, 0, sweep_count(p) * sizeof(sweep_run)); /* the texts moved */
        }
    w->find_runs += p->find_runs;
    if (p->found && (!w->found || p->found_seed < w->found_seed)) {
        free(w->found_what);
        free(w->found_reproduce);
        w->found = 1;
        w->found_seed = p->found_seed;
        w->found_at_ns = p->found_at_ns;
        w->found_what = p->found_what;
        w->found_reproduce = p->found_reproduce;
        p->found_what = p->found_reproduce = NULL;
    }
}

sim_sweep *sweep_merge(const char *const *paths, int npaths, char *err, size_t errlen) {
    sim_sweep *whole = NULL;
    char *seen = NULL;
    for (int i = 0; i < npaths; i++) {
        reader rd = {paths[i], err, errlen};
        sim_sweep *p = read_part(&rd);
        if (!p) goto fail;
        if (!whole) {
            whole = frame_of(p);
            seen = calloc((size_t)p->nshards, 1);
            if (!seen) abort();
        }
        int bad = check_part(&rd, whole, p) < 0;
        if (!bad && seen[p->shard]) bad = fail(&rd, "%s", "a second copy of a shard already read") < 0;
        if (!bad) {
            seen[p->shard] = 1;
            take_part(whole, p);
        }
        sweep_free(p);
        if (bad) goto fail;
    }
    if (!whole) {
        snprintf(err, errlen, "--merge needs the parts' files");
        return NULL;
    }
    for (int k = 0; k < whole->nshards; k++)
        if (!seen[k]) {
            snprintf(err, errlen, "shard %d of %d is missing (every part is needed for the whole sweep)", k,
                     whole->nshards);
            goto fail;
        }
    free(seen);
    return whole;
fail:
    free(seen);
    sweep_free(whole);
    return NULL;
}
