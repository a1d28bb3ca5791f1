/*  benchreport - the rows chat-bench prints; see benchreport.h  */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <czmq.h>
#include "benchreport.h"

typedef struct {
    char *scenario;
    char *figure;
    double value;
    char *unit;
    char *ceiling_name;
    double ceiling;
    bench_target_t kind;
    double target;
    char *target_text;
    char *failure;              //  the scenario did not run: why
    char *skipped;              //  the scenario was skipped: why
} row_t;

typedef struct {
    char *scenario;
    char *text;
} note_t;

struct _benchreport_t {
    zlistx_t *rows;
    zlistx_t *notes;
};

static void
s_row_destroy (row_t **self_p)
{
    row_t *self = *self_p;
    if (self) {
        free (self->scenario);
        free (self->figure);
        free (self->unit);
        free (self->ceiling_name);
        free (self->target_text);
        free (self->failure);
        free (self->skipped);
        free (self);
        *self_p = NULL;
    }
}

static void
s_note_destroy (note_t **self_p)
{
    note_t *self = *self_p;
    if (self) {
        free (self->scenario);
        free (self->text);
        free (self);
        *self_p = NULL;
    }
}

static char *
s_dup (const char *text)
{
    return text? strdup (text): NULL;
}

benchreport_t *
benchreport_new (void)
{
    benchreport_t *self = (benchreport_t *) zmalloc (sizeof *self);
    self->rows = zlistx_new ();
    zlistx_set_destructor (self->rows, (zlistx_destructor_fn *) s_row_destroy);
    self->notes = zlistx_new ();
    zlistx_set_destructor (self->notes, (zlistx_destructor_fn *) s_note_destroy);
    return self;
}

void
benchreport_destroy (benchreport_t **self_p)
{
    assert (self_p);
    benchreport_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->rows);
        zlistx_destroy (&self->notes);
        free (self);
        *self_p = NULL;
    }
}

void
benchreport_add (benchreport_t *self, const char *scenario, const char *figure,
                 double value, const char *unit,
                 const char *ceiling_name, double ceiling,
                 bench_target_t kind, double target, const char *target_text)
{
    row_t *row = (row_t *) zmalloc (sizeof *row);
    row->scenario = s_dup (scenario);
    row->figure = s_dup (figure);
    row->value = value;
    row->unit = s_dup (unit);
    if (ceiling_name && ceiling > 0) {
        row->ceiling_name = s_dup (ceiling_name);
        row->ceiling = ceiling;
    }
    row->kind = kind;
    row->target = target;
    row->target_text = s_dup (target_text);
    zlistx_add_end (self->rows, row);
}

//  A row for a scenario that did not run: failed, or skipped, and why.
static void
s_add_not_run (benchreport_t *self, const char *scenario, bool failed, const char *reason)
{
    row_t *row = (row_t *) zmalloc (sizeof *row);
    row->scenario = s_dup (scenario);
    row->figure = s_dup (failed? "(did not run)": "(skipped)");
    row->value = NAN;
    if (failed)
        row->failure = s_dup (reason? reason: "failed");
    else
        row->skipped = s_dup (reason? reason: "skipped");
    zlistx_add_end (self->rows, row);
}

void
benchreport_fail (benchreport_t *self, const char *scenario, const char *reason)
{
    s_add_not_run (self, scenario, true, reason);
}

void
benchreport_skip (benchreport_t *self, const char *scenario, const char *reason)
{
    s_add_not_run (self, scenario, false, reason);
}

void
benchreport_note (benchreport_t *self, const char *scenario, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char *text = zsys_vprintf (fmt, args);
    va_end (args);
    if (!text)
        return;
    note_t *note = (note_t *) zmalloc (sizeof *note);
    note->scenario = s_dup (scenario);
    note->text = text;
    zlistx_add_end (self->notes, note);
}

static bool
s_met (row_t *row)
{
    if (row->kind == BENCH_AT_LEAST)
        return row->value >= row->target;
    if (row->kind == BENCH_AT_MOST)
        return row->value <= row->target;
    return true;
}

static const char *
s_status (row_t *row)
{
    if (row->failure)
        return "FAILED";
    if (row->skipped)
        return "SKIPPED";
    if (row->kind == BENCH_NO_TARGET)
        return "";
    if (isnan (row->value))
        return "n/a";
    return s_met (row)? "met": "MISSED";
}

int
benchreport_missed (benchreport_t *self)
{
    int missed = 0;
    for (row_t *row = (row_t *) zlistx_first (self->rows); row;
         row = (row_t *) zlistx_next (self->rows))
        if (!row->failure && !row->skipped && row->kind != BENCH_NO_TARGET && !s_met (row))
            missed++;
    return missed;
}

int
benchreport_failed (benchreport_t *self)
{
    int failed = 0;
    for (row_t *row = (row_t *) zlistx_first (self->rows); row;
         row = (row_t *) zlistx_next (self->rows))
        if (row->failure)
            failed++;
    return failed;
}

//  Enough digits to read, never a wall of them.
static void
s_number (char *out, size_t size, double value)
{
    if (isnan (value))
        snprintf (out, size, "-");
    else
    if (fabs (value) >= 1000)
        snprintf (out, size, "%.0f", value);
    else
    if (fabs (value) >= 100)
        snprintf (out, size, "%.1f", value);
    else
    if (fabs (value) >= 1)
        snprintf (out, size, "%.2f", value);
    else
        snprintf (out, size, "%.3f", value);
}

void
benchreport_print_table (benchreport_t *self, FILE *out)
{
    fprintf (out, "%-12s %-38s %12s %-8s %12s %-10s %7s %-12s %s\n",
             "scenario", "figure", "value", "unit", "ceiling", "(bound)", "ratio",
             "target", "status");
    for (row_t *row = (row_t *) zlistx_first (self->rows); row;
         row = (row_t *) zlistx_next (self->rows)) {
        if (row->failure) {
            fprintf (out, "%-12s %-38s %12s %-8s %12s %-10s %7s %-12s FAILED: %s\n",
                     row->scenario, row->figure, "-", "", "-", "", "-", "", row->failure);
            continue;
        }
        if (row->skipped) {
            fprintf (out, "%-12s %-38s %12s %-8s %12s %-10s %7s %-12s SKIPPED: %s\n",
                     row->scenario, row->figure, "-", "", "-", "", "-", "", row->skipped);
            continue;
        }
        char value [32], ceiling [32] = "-", ratio [32] = "-";
        s_number (value, sizeof value, row->value);
        if (row->ceiling_name) {
            s_number (ceiling, sizeof ceiling, row->ceiling);
            snprintf (ratio, sizeof ratio, "%.3f", row->value / row->ceiling);
        }
        fprintf (out, "%-12s %-38s %12s %-8s %12s %-10s %7s %-12s %s\n",
                 row->scenario, row->figure, value, row->unit? row->unit: "",
                 ceiling, row->ceiling_name? row->ceiling_name: "", ratio,
                 row->target_text? row->target_text: "", s_status (row));
    }
    if (zlistx_size (self->notes)) {
        fprintf (out, "\n");
        for (note_t *note = (note_t *) zlistx_first (self->notes); note;
             note = (note_t *) zlistx_next (self->notes))
            fprintf (out, "%s: %s\n", note->scenario, note->text);
    }
}

static void
s_json_string (FILE *out, const char *text)
{
    if (!text) {
        fputs ("null", out);
        return;
    }
    fputc ('"', out);
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (out, "\\%c", *p);
        else
        if (*p < 0x20)
            fprintf (out, "\\u%04x", *p);
        else
            fputc (*p, out);
    }
    fputc ('"', out);
}

static void
s_json_number (FILE *out, double value)
{
    if (isnan (value) || isinf (value))
        fputs ("null", out);
    else
        fprintf (out, "%.6g", value);
}

void
benchreport_print_json (benchreport_t *self, FILE *out, const char *command)
{
    fprintf (out, "{\n  \"command\": ");
    s_json_string (out, command);
    fprintf (out, ",\n  \"rows\": [");
    bool first = true;
    for (row_t *row = (row_t *) zlistx_first (self->rows); row;
         row = (row_t *) zlistx_next (self->rows)) {
        fprintf (out, "%s\n    {\"scenario\": ", first? "": ",");
        first = false;
        s_json_string (out, row->scenario);
        fprintf (out, ", \"figure\": ");
        s_json_string (out, row->figure);
        fprintf (out, ", \"value\": ");
        s_json_number (out, row->failure || row->skipped? NAN: row->value);
        fprintf (out, ", \"unit\": ");
        s_json_string (out, row->unit);
        fprintf (out, ", \"ceiling_name\": ");
        s_json_string (out, row->ceiling_name);
        fprintf (out, ", \"ceiling\": ");
        s_json_number (out, row->ceiling_name? row->ceiling: NAN);
        fprintf (out, ", \"ratio\": ");
        s_json_number (out, row->ceiling_name? row->value / row->ceiling: NAN);
        fprintf (out, ", \"target\": ");
        s_json_string (out, row->target_text);
        fprintf (out, ", \"status\": ");
        s_json_string (out, s_status (row));
        if (row->failure) {
            fprintf (out, ", \"error\": ");
            s_json_string (out, row->failure);
        }
        if (row->skipped) {
            fprintf (out, ", \"skipped\": ");
            s_json_string (out, row->skipped);
        }
        fprintf (out, "}");
    }
    fprintf (out, "\n  ],\n  \"notes\": [");
    first = true;
    for (note_t *note = (note_t *) zlistx_first (self->notes); note;
         note = (note_t *) zlistx_next (self->notes)) {
        fprintf (out, "%s\n    {\"scenario\": ", first? "": ",");
        first = false;
        s_json_string (out, note->scenario);
        fprintf (out, ", \"text\": ");
        s_json_string (out, note->text);
        fprintf (out, "}");
    }
    fprintf (out, "\n  ]\n}\n");
}
