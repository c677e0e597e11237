/* scratchnet plot FILE.csv -o FILE.svg [--columns a,b] [--title TEXT] */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet plot FILE.csv [-o FILE.svg] [--columns A,B] [--title TEXT]\n"
    "\n"
    "Draws columns of a CSV file with a header (such as a run's history.csv)\n"
    "against its first column as one SVG line chart with a title, axis labels,\n"
    "ticks and a legend. Columns whose names end in 'acc' are shown in %.\n"
    "\n"
    "  -o, --out FILE     the SVG file (default: FILE.csv with .svg)\n"
    "  --columns A,B      columns to draw (default: every column ending in 'loss')\n"
    "  --title TEXT       chart title (default: the file's name)\n";

static const char *const opts[] = {"--out", "--columns", "--title", "--quiet", NULL};
const cli_verb cli_verb_plot = {"plot", usage, opts, 1, 1};

int cmd_plot(cli_opts *o) {
    char out[4096];
    const char *csv = o->positional[0];
    if (o->out) {
        snprintf(out, sizeof out, "%s", o->out);
    } else {
        size_t n = strlen(csv);
        if (n > 4 && strcmp(csv + n - 4, ".csv") == 0) n -= 4;
        snprintf(out, sizeof out, "%.*s.svg", (int)n, csv);
    }
    sn_error err = {0};
    if (sn_plot_csv(csv, o->columns, o->title, out, &err) != SN_OK) {
        fprintf(stderr, "scratchnet plot: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    if (!o->quiet) fprintf(stderr, "wrote %s\n", out);
    return 0;
}
