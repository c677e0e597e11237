/* CSV loader: header detection, label and target columns, delimiters, CRLF,
 * and errors that name file, line and column. */
#include "check.h"
#include "core/error.h"
#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char paths[64][256];
static int npaths;

static const char *write_text(const char *name, const char *text) {
    char *p = paths[npaths++];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    return p;
}

static int has(const sn_error *e, const char *words) {
    return strstr(e->msg, words) != NULL;
}

static sn_csv_options defaults(void) {
    return (sn_csv_options){.header = -1, .label_col = -1, .delimiter = ','};
}

/* Loads text with opt expecting an error; returns 1 when the message holds both strings. */
static int fails(const char *name, const char *text, const sn_csv_options *opt, sn_status code,
                 const char *w1, const char *w2) {
    sn_dataset d;
    sn_error e = {0};
    const char *p = write_text(name, text);
    sn_status s = sn_csv_load(p, opt, &d, &e);
    int ok = s == code && has(&e, name) && has(&e, w1) && (!w2 || has(&e, w2)) && d.x == NULL;
    if (!ok) fprintf(stderr, "  %s: status %d, message: %s\n", name, (int)s, e.msg);
    return ok;
}

static void test_label_last(void) {
    sn_dataset d;
    sn_error e = {0};
    /* Detected header, whitespace, CRLF, blank trailing lines. */
    const char *p = write_text("iris.csv", "a, b ,c,label\r\n"
                                           "1.5, 2,  -3e-1 , 2\r\n"
                                           "\t4,5,6,0\r\n"
                                           "7,8,9.25,1\r\n"
                                           "\r\n"
                                           "  \n");
    CHECK(sn_csv_load(p, NULL, &d, &e) == SN_OK);
    CHECK(d.n == 3 && d.ndim == 1 && d.shape[0] == 3 && d.sample_size == 3);
    CHECK(d.labels && !d.targets && d.num_classes == 3);
    CHECK(d.x[0] == 1.5f && d.x[1] == 2.0f && d.x[2] == (float)-3e-1 && d.x[8] == 9.25f);
    CHECK(d.labels[0] == 2 && d.labels[1] == 0 && d.labels[2] == 1);
    sn_dataset_free(&d);

    /* No header (all numeric), no final newline. */
    p = write_text("plain.csv", "1,2,3\n4,5,6");
    CHECK(sn_csv_load(p, NULL, &d, &e) == SN_OK);
    CHECK(d.n == 2 && d.sample_size == 2 && d.num_classes == 7 && d.labels[1] == 6);
    CHECK(d.x[2] == 4.0f && d.x[3] == 5.0f);
    sn_dataset_free(&d);

    /* header = 1 skips the first line even when it is numeric. */
    sn_csv_options o = defaults();
    o.header = 1;
    CHECK(sn_csv_load(p, &o, &d, &e) == SN_OK);
    CHECK(d.n == 1 && d.labels[0] == 6);
    sn_dataset_free(&d);
}

static void test_label_col_and_delim(void) {
    sn_dataset d;
    sn_error e = {0};
    sn_csv_options o = defaults();
    o.label_col = 0;
    o.delimiter = ';';
    const char *p = write_text("semi.csv", "\xEF\xBB\xBF"
                                           "y;x1;x2\n4;0.5;1\n1;2;3\n");
    CHECK(sn_csv_load(p, &o, &d, &e) == SN_OK);
    CHECK(d.n == 2 && d.sample_size == 2 && d.num_classes == 5);
    CHECK(d.labels[0] == 4 && d.labels[1] == 1 && d.x[0] == 0.5f && d.x[3] == 3.0f);
    sn_dataset_free(&d);

    o.delimiter = '\t';
    o.label_col = 1;
    p = write_text("tab.tsv", "1\t2.0\t3\n4\t0\t6\n");
    CHECK(sn_csv_load(p, &o, &d, &e) == SN_OK);
    CHECK(d.n == 2 && d.num_classes == 3 && d.x[0] == 1.0f && d.x[1] == 3.0f && d.x[3] == 6.0f);
    sn_dataset_free(&d);
}

static void test_targets(void) {
    sn_dataset d;
    sn_error e = {0};
    sn_csv_options o = defaults();
    o.num_target_cols = 2;
    o.target_cols[0] = 3;
    o.target_cols[1] = 0;
    const char *p = write_text("reg.csv", "t1,x1,x2,t0\n0.5,1,2,-1\n1.5,3,4,-2\n");
    CHECK(sn_csv_load(p, &o, &d, &e) == SN_OK);
    CHECK(d.n == 2 && d.sample_size == 2 && !d.labels && d.targets && d.num_targets == 2);
    CHECK(d.num_classes == 0);
    CHECK(d.targets[0] == -1.0f && d.targets[1] == 0.5f && d.targets[2] == -2.0f &&
          d.targets[3] == 1.5f);
    CHECK(d.x[0] == 1.0f && d.x[1] == 2.0f && d.x[2] == 3.0f && d.x[3] == 4.0f);
    sn_dataset_free(&d);

    o.target_cols[1] = 3;
    CHECK(fails("dup.csv", "1,2,3,4\n", &o, SN_ERR_ARG, "target column 3 given twice", NULL));
    o.target_cols[1] = 4;
    CHECK(fails("range.csv", "1,2,3,4\n", &o, SN_ERR_ARG, "target column 4 out of range", NULL));
    o.label_col = 1;
    CHECK(fails("both.csv", "1,2,3,4\n", &o, SN_ERR_ARG, "both", NULL));
}

static void test_errors(void) {
    sn_csv_options o = defaults();
    CHECK(fails("bad.csv", "a,b,c,d\n1,2,3,4\n5,6,abc,1\n", NULL, SN_ERR_FORMAT,
                "bad.csv:3: column 3: 'abc' is not a number", NULL));
    CHECK(fails("cols.csv", "1,2,3,4,5\n1,2,3,4,5\r\n1,2,3,4\n", NULL, SN_ERR_FORMAT,
                "cols.csv:3: 4 columns, expected 5", NULL));
    CHECK(fails("hdrcols.csv", "a,b,c\n1,2,3,4\n", NULL, SN_ERR_FORMAT,
                "hdrcols.csv:2: 4 columns, expected 3", NULL));
    CHECK(fails("empty-field.csv", "1,2,3\n4,,6\n", NULL, SN_ERR_FORMAT,
                "empty-field.csv:2: column 2: empty field", NULL));
    CHECK(fails("neg.csv", "1,2,3\n4,5,-1\n", NULL, SN_ERR_FORMAT,
                "neg.csv:2: column 3: label '-1' is negative", NULL));
    CHECK(fails("frac.csv", "1,2,3\n4,5,2.5\n", NULL, SN_ERR_FORMAT,
                "frac.csv:2: column 3: label '2.5' is not an integer", NULL));
    CHECK(fails("bigl.csv", "1,2,1e9\n", NULL, SN_ERR_FORMAT, "too large", NULL));
    CHECK(fails("inf.csv", "1,inf,3\n", NULL, SN_ERR_FORMAT, "'inf' is not a finite", NULL));
    CHECK(fails("huge.csv", "1,1e300,3\n", NULL, SN_ERR_FORMAT, "column 2", "finite float32"));
    CHECK(fails("hdronly.csv", "a,b,c\n\n", NULL, SN_ERR_FORMAT, "no data rows", NULL));
    CHECK(fails("empty.csv", "", NULL, SN_ERR_FORMAT, "no data rows", NULL));
    CHECK(fails("onecol.csv", "1\n2\n", NULL, SN_ERR_FORMAT, "no feature columns", NULL));
    o.header = 0;
    CHECK(fails("nohdr.csv", "x,y\n1,2\n", &o, SN_ERR_FORMAT, "nohdr.csv:1: column 1: 'x'", NULL));
    o.header = -1;
    o.label_col = 9;
    CHECK(fails("lcol.csv", "1,2\n", &o, SN_ERR_ARG, "label column 9 out of range", NULL));

    sn_dataset d;
    sn_error e = {0};
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.csv", dir);
    CHECK(sn_csv_load(missing, NULL, &d, &e) == SN_ERR_IO);
    CHECK(has(&e, "missing.csv: cannot open") && has(&e, "No such file"));
}

int main(void) {
    strcpy(dir, "/tmp/sn_test_csv_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_label_last();
    test_label_col_and_delim();
    test_targets();
    test_errors();
    for (int i = 0; i < npaths; i++) unlink(paths[i]);
    if (rmdir(dir) != 0) perror(dir);
    return check_report();
}
