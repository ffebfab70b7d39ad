/*
 * render.c: the exploration as text, JSON and an SVG frontier chart (see render.h).
 *
 * The chart has one row per fault that does something (inert faults are named in one line below it): the
 * fault's range from its low end (left: no fault, or the smallest magnitude of a logarithmic range) to its
 * high end (right), green where the steady state holds, amber over the frontier's interval, red where it
 * breaks, the estimate as a black tick, and every evaluated position as a dot (green HOLD, red BREAK, amber
 * UNSURE), so the chart also shows where the search spent its runs. Pairs follow on the same axis, which is
 * then t, the share of each part's own limit.
 */
#include "sim/explore/render.h"

#include <math.h>
#include <string.h>

#include "base/units.h"

static void seconds(char *out, size_t outlen, int64_t ns) { snprintf(out, outlen, "%g s", (double)ns / SEC); }

static void header(FILE *out, const xp_summary *sum, const xp_row *rows, int nrows) {
    char b[32], c[32], r[32];
    seconds(b, sizeof b, sum->baseline_ns);
    seconds(c, sizeof c, sum->chaos_ns);
    seconds(r, sizeof r, sum->recovery_ns);
    int singles = 0, pairs = 0;
    for (int i = 0; i < nrows; i++) *(rows[i].nparts == 1 ? &singles : &pairs) += 1;
    fprintf(out, "payment-chaos fault-space exploration, seed %llu%s%s\n", (unsigned long long)sum->seed,
            sum->manifest ? ", cluster from " : "", sum->manifest ? sum->manifest : "");
    fprintf(out, "steady state: %s\n", sum->expect);
    fprintf(out,
            "runs:   baseline %s, chaos %s (the fault's duration; partition and pod-failure last their magnitude,\n"
            "        a pod-kill until its pods are Ready again), recovery %s; ",
            b, c, r);
    if (sum->rate > 0)
        fprintf(out, "%g requests/s;", sum->rate);
    else
        fprintf(out, "closed-loop clients;");
    fprintf(out, " each point over seeds %llu.. (%d, up to %d when undecided)\n", (unsigned long long)sum->seed,
            XP_SEEDS_FIRST, XP_SEEDS_MAX);
    fprintf(out, "no fault: %s\n", sum->baseline);
    fprintf(out, "search: %s, %d faults + %d pairs, %d simulations (budget %d%s)", sum->strategy, singles, pairs,
            sum->runs, sum->budget, sum->budget_hit ? ", spent" : "");
    if (sum->converged_at >= 0)
        fprintf(out, "; every fault's interval within %g of its range after %d\n", sum->width, sum->converged_at);
    else
        fprintf(out, "; not every fault's interval within %g of its range\n", sum->width);
    if (sum->verify_runs) fprintf(out, "        and %d to check the files written\n", sum->verify_runs);
}

static void singles_table(FILE *out, const xp_row *rows, int nrows) {
    fprintf(out,
            "\ntolerance frontier: the largest magnitude at which the steady state holds (estimate; interval from\n"
            "the largest magnitude that holds to the smallest that breaks, each decided by a 95 %% interval over "
            "seeds)\n");
    fprintf(out, "%-38s %-12s %-22s %5s  %s\n", "fault", "frontier", "interval", "runs", "what breaks first");
    for (int i = 0; i < nrows; i++) {
        const xp_row *r = &rows[i];
        if (r->nparts != 1 || r->iv.status == XS_INERT || r->iv.status == XS_HOLDS) continue;
        fprintf(out, "%-38s %-12s %-22s %5d  %s%s%s\n", r->name, r->frontier[0] ? r->frontier : "-",
                r->interval[0] ? r->interval : "-", r->s->runs, r->first, strcmp(r->status, "frontier") ? "  " : "",
                strcmp(r->status, "frontier") ? r->status : "");
    }
    int any = 0;
    for (int pass = 0; pass < 2; pass++) {
        any = 0;
        for (int i = 0; i < nrows; i++) {
            const xp_row *r = &rows[i];
            if (r->nparts != 1 || r->iv.status != (pass ? XS_INERT : XS_HOLDS)) continue;
            if (!any)
                fprintf(out, "\n%s",
                        pass ? "no effect (the fault's rules saw no packet: nothing is sent there; one run "
                               "each):\n "
                             : "holds over the whole range (the frontier is beyond its end):\n ");
            fprintf(out, "%s %s%s", any ? ";" : "", r->name, pass ? "" : "");
            if (!pass) fprintf(out, " (%s)", r->frontier);
            any = 1;
        }
        if (any) fprintf(out, "\n");
    }
}

static void pairs_table(FILE *out, const xp_row *rows, int nrows) {
    int any = 0;
    for (int i = 0; i < nrows; i++) {
        const xp_row *r = &rows[i];
        if (r->nparts != 2) continue;
        if (!any) {
            fprintf(out,
                    "\npairs: each part at a share t of its own limit (t = 1: each at the largest magnitude that "
                    "holds alone;\na fault that holds over its range: its range's end)\n");
            fprintf(out, "%-72s %-10s %-14s %5s  %s\n", "pair", "frontier", "interval", "runs", "what breaks first");
            any = 1;
        }
        fprintf(out, "%-72s %-10s %-14s %5d  %s\n", r->name, r->frontier[0] ? r->frontier : r->status,
                r->interval[0] ? r->interval : "-", r->s->runs,
                r->iv.hi_pt >= 0           ? r->first
                : r->iv.status == XS_HOLDS ? "holds with both at t = 1"
                                           : r->status);
    }
}

static void ranking(FILE *out, const xp_row *rows, const int *ranked, int nranked) {
    if (!nranked) {
        fprintf(out, "\nno fault of the space breaks the steady state\n");
        return;
    }
    fprintf(out, "\nbreaking points, ranked (fewest parts, then the smallest share of the fault's range)\n");
    for (int k = 0; k < nranked; k++) {
        const xp_row *r = &rows[ranked[k]];
        fprintf(out, "%3d  %s: %s\n", r->rank, r->nparts == 1 ? r->name : "pair", r->breaks_at);
        if (r->file[0] || r->file_note[0]) fprintf(out, "     %s%s%s\n", r->file, r->file[0] ? ": " : "", r->file_note);
        if (r->inside[0] || r->inside_note[0])
            fprintf(out, "     %s%s%s\n", r->inside, r->inside[0] ? ": " : "", r->inside_note);
    }
}

void render_text(FILE *out, const xp_summary *sum, const xp_row *rows, int nrows, const int *ranked, int nranked) {
    header(out, sum, rows, nrows);
    if (sum->baseline_holds) {
        singles_table(out, rows, nrows);
        pairs_table(out, rows, nrows);
        ranking(out, rows, ranked, nranked);
    } else {
        fprintf(out, "\nthe steady state does not hold without a fault: nothing to explore\n");
    }
}

/* ---- JSON ---- */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *points_json(const xp_row *r) {
    static const char *const names[] = {"pending", "hold", "break", "unsure"};
    json_t *a = json_array();
    for (int i = 0; i < r->s->npts; i++) {
        const xp_point *p = &r->s->pts[i];
        json_t *means = json_array();
        for (int e = 0; e < r->nex; e++) json_array_append_new(means, num(p->value_mean[e]));
        json_array_append_new(a, json_pack("{s:o, s:i, s:s, s:o}", "u", num(p->u), "seeds", p->n, "decision",
                                           names[p->decision], "mean", means));
    }
    return a;
}

static json_t *row_json(const xp_row *r) {
    static const char *const status[] = {"open", "frontier", "holds", "below", "inert"};
    json_t *parts = json_array();
    for (int i = 0; i < r->nparts; i++)
        json_array_append_new(parts,
                              json_pack("{s:s, s:s}", "fault", r->f[i]->name, "kind", space_kind_name(r->f[i]->kind)));
    json_t *o = json_pack("{s:s, s:o, s:s, s:b, s:b, s:i}", "name", r->name, "parts", parts, "status",
                          status[r->iv.status], "closed", r->iv.closed, "noisy", r->iv.noisy, "runs", r->s->runs);
    json_object_set_new(o, "unit", json_string(r->nparts == 1 ? space_unit(r->f[0]->kind) : "t"));
    json_object_set_new(o, "u_lo", num(r->iv.lo >= 0 ? r->iv.lo : NAN));
    json_object_set_new(o, "u_hi", num(r->iv.hi_pt >= 0 ? r->iv.hi : NAN));
    json_object_set_new(o, "lo", num(r->lo_value));
    json_object_set_new(o, "hi", num(r->hi_value));
    json_object_set_new(o, "estimate", num(r->estimate_value));
    json_object_set_new(o, "frontier", json_string(r->frontier));
    json_object_set_new(o, "interval", json_string(r->interval));
    json_object_set_new(o, "breaks_at", json_string(r->breaks_at));
    json_object_set_new(o, "first", json_string(r->first));
    json_object_set_new(o, "rank", json_integer(r->rank));
    json_object_set_new(o, "file", r->file[0] ? json_string(r->file) : json_null());
    json_object_set_new(o, "inside_file", r->inside[0] ? json_string(r->inside) : json_null());
    json_object_set_new(o, "points", points_json(r));
    return o;
}

json_t *render_json(const xp_summary *sum, const xp_row *rows, int nrows, const int *ranked, int nranked) {
    json_t *faults = json_array(), *pairs = json_array(), *rank = json_array();
    for (int i = 0; i < nrows; i++) json_array_append_new(rows[i].nparts == 1 ? faults : pairs, row_json(&rows[i]));
    for (int k = 0; k < nranked; k++) json_array_append_new(rank, json_string(rows[ranked[k]].name));
    return json_pack("{s:s, s:I, s:s, s:f, s:i, s:i, s:i, s:i, s:b, s:s, s:o, s:o, s:o}", "expect", sum->expect, "seed",
                     (json_int_t)sum->seed, "strategy", sum->strategy, "width", sum->width, "budget", sum->budget,
                     "simulations", sum->runs, "converged_at", sum->converged_at, "verify_simulations",
                     sum->verify_runs, "budget_spent", sum->budget_hit, "baseline", sum->baseline, "faults", faults,
                     "pairs", pairs, "ranking", rank);
}

/* ---- SVG ---- */

#define SVG_W 1000
#define SVG_LEFT 330
#define SVG_BAR 440
#define SVG_ROW 16
#define SVG_TOP 64

static void svg_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

static double xpos(double u) { return SVG_LEFT + SVG_BAR * (u < 0 ? 0 : u > 1 ? 1 : u); }

static void svg_row(FILE *f, const xp_row *r, double y) {
    const xp_interval *iv = &r->iv;
    double lo = iv->lo < 0 ? 0 : iv->lo, hi = iv->hi_pt >= 0 ? iv->hi : 1;
    if (iv->status == XS_HOLDS) lo = hi = 1;
    /* a pair's name is two faults long: smaller, so that it fits left of the bar */
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\"%s>", SVG_LEFT - 6, y + 11,
            r->nparts == 2 ? " font-size=\"8.5\"" : "");
    svg_escape(f, r->name);
    fprintf(f, "</text>\n");
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"#8fd18f\"/>\n", xpos(0), y + 2,
            xpos(lo) - xpos(0));
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"#f2c14e\"/>\n", xpos(lo), y + 2,
            xpos(hi) - xpos(lo));
    if (iv->hi_pt >= 0)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"#e8877f\"/>\n", xpos(hi), y + 2,
                xpos(1) - xpos(hi));
    if (!isnan(iv->estimate))
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" stroke-width=\"2\"/>\n",
                xpos(iv->estimate), y, xpos(iv->estimate), y + 14);
    for (int i = 0; i < r->s->npts; i++) {
        const xp_point *p = &r->s->pts[i];
        const char *c = p->decision == XD_HOLD ? "#1b7a1b" : p->decision == XD_BREAK ? "#a01818" : "#b07800";
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>\n", xpos(p->u), y + 7, c);
    }
    fprintf(f, "<text x=\"%d\" y=\"%.1f\">", SVG_LEFT + SVG_BAR + 8, y + 11);
    svg_escape(f, r->frontier[0] ? r->frontier : r->status);
    if (r->interval[0]) {
        fputc(' ', f);
        svg_escape(f, r->interval);
    }
    fprintf(f, "</text>\n");
}

/* The inert faults' names, six to a line. */
static void svg_inert(FILE *f, const xp_row *rows, int nrows, double y) {
    fprintf(f, "<text x=\"10\" y=\"%.1f\" font-size=\"10\">no effect (no packet on the link):", y);
    int k = 0;
    for (int i = 0; i < nrows; i++) {
        if (rows[i].iv.status != XS_INERT) continue;
        if (k && k % 6 == 0) fprintf(f, "</text>\n<text x=\"10\" y=\"%.1f\" font-size=\"10\">", y += 13);
        fputc(' ', f);
        svg_escape(f, rows[i].name);
        fputc(';', f);
        k++;
    }
    fprintf(f, "</text>\n");
}

int render_svg(const char *path, const xp_summary *sum, const xp_row *rows, int nrows, char *err, size_t errlen) {
    int shown = 0, inert = 0;
    for (int i = 0; i < nrows; i++) *(rows[i].iv.status == XS_INERT ? &inert : &shown) += 1;
    int height = SVG_TOP + SVG_ROW * (shown + 2) + 24 + 13 * (inert / 6 + 2);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
            "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SVG_W, height);
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\">Tolerance frontier: ");
    svg_escape(f, sum->expect);
    fprintf(f, " (seed %llu)</text>\n", (unsigned long long)sum->seed);
    fprintf(f,
            "<text x=\"10\" y=\"38\" font-size=\"10\">each fault's range, low end left (no fault, or its smallest "
            "magnitude) to high end right; green holds, amber the frontier's 95 %% interval, red breaks; "
            "tick: estimate;</text>\n<text x=\"10\" y=\"50\" font-size=\"10\">dots: the positions the search ran "
            "(green hold, red break, amber undecided). Pairs: t = the share of each part's own limit.</text>\n");
    double y = SVG_TOP;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nrows; i++)
            if (rows[i].iv.status != XS_INERT && (rows[i].nparts == 2) == pass) {
                svg_row(f, &rows[i], y);
                y += SVG_ROW;
            }
    if (inert) svg_inert(f, rows, nrows, y + 20);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}
