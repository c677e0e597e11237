/* The CIFAR-10 binary loader on small files written here in the exact
 * format (label byte, then R, G, B planes of 32x32), good and malformed. */
#include "check.h"
#include "scratchnet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC 3073

static char dir[64];

/* The pixel value of record r, plane c, position p in the files below. */
static unsigned char pixel(int file, int r, int c, int p) {
    return (unsigned char)((file * 7 + r * 31 + c * 85 + p * 13) % 256);
}

/* Writes `records` records (labels (file + r) % 10) plus `extra` stray bytes. */
static void write_file(const char *name, int file, int records, int extra) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    for (int r = 0; r < records; r++) {
        fputc((file + r) % 10, f);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++) fputc(pixel(file, r, c, p), f);
    }
    for (int i = 0; i < extra; i++) fputc(0, f);
    fclose(f);
}

static void write_text(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void set_byte(const char *name, long off, int v) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    fseek(f, off, SEEK_SET);
    fputc(v, f);
    fclose(f);
}

static void test_good_dir(void) {
    for (int i = 1; i <= 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i);
        write_file(name, i, 3 + i, 0);
    }
    write_file("test_batch.bin", 9, 4, 0);
    sn_dataset d;
    sn_error err = {0};
    CHECK(sn_cifar_load_dir(dir, "train", 0, 0, &d, &err) == SN_OK);
    /* 4 + 5 + 6 + 7 + 8 records, files in order. */
    CHECK(d.n == 30 && d.ndim == 3 && d.shape[0] == 3 && d.shape[1] == 32 && d.shape[2] == 32);
    CHECK(d.sample_size == 3072 && d.num_classes == 10 && d.targets == NULL);
    int i = 0, ok = 1;
    for (int file = 1; file <= 5; file++)
        for (int r = 0; r < 3 + file; r++, i++) {
            ok &= d.labels[i] == (file + r) % 10;
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 1024; p += 37)
                    ok &= d.x[(size_t)i * 3072 + c * 1024 + p] == pixel(file, r, c, p) / 255.0f;
        }
    CHECK(ok);
    sn_dataset_free(&d);

    /* Two images per file, grey: Y = 0.299 R + 0.587 G + 0.114 B, in [0, 1]. */
    CHECK(sn_cifar_load_dir(dir, "train", 2, 1, &d, &err) == SN_OK);
    CHECK(d.n == 10 && d.shape[0] == 1 && d.sample_size == 1024);
    double worst = 0;
    i = 0;
    for (int file = 1; file <= 5; file++)
        for (int r = 0; r < 2; r++, i++) {
            CHECK(d.labels[i] == (file + r) % 10);
            for (int p = 0; p < 1024; p++) {
                double y = (0.299 * pixel(file, r, 0, p) + 0.587 * pixel(file, r, 1, p) +
                            0.114 * pixel(file, r, 2, p)) /
                           255.0;
                worst = fmax(worst, fabs(d.x[(size_t)i * 1024 + p] - y));
            }
        }
    CHECK(worst < 1e-6);
    sn_dataset_free(&d);

    CHECK(sn_cifar_load_dir(dir, "test", 100, 0, &d, &err) == SN_OK);
    CHECK(d.n == 4 && d.labels[0] == 9 && d.labels[1] == 0);
    sn_dataset_free(&d);

    /* A folder that holds cifar-10-batches-bin/ works too. */
    char outer[96], inner[128], cmd[400];
    snprintf(outer, sizeof outer, "%s-outer", dir);
    snprintf(inner, sizeof inner, "%s/cifar-10-batches-bin", outer);
    mkdir(outer, 0700);
    snprintf(cmd, sizeof cmd, "cp -r %s %s", dir, inner);
    CHECK(system(cmd) == 0);
    CHECK(sn_cifar_load_dir(outer, "test", 0, 1, &d, &err) == SN_OK && d.n == 4);
    sn_dataset_free(&d);
    snprintf(cmd, sizeof cmd, "rm -r %s", outer);
    CHECK(system(cmd) == 0);

    CHECK(sn_cifar_load_dir(dir, "valid", 0, 0, &d, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "\"valid\"") != NULL);
}

static void expect(sn_status s, sn_error *err, sn_status code, const char *needle) {
    CHECK(s == code);
    if (!strstr(err->msg, needle)) fprintf(stderr, "'%s' lacks '%s'\n", err->msg, needle);
    CHECK(strstr(err->msg, needle) != NULL);
}

static void test_malformed(void) {
    sn_dataset d;
    sn_error err = {0};
    char path[256], want[400];

    /* Cut short: 2 records and 100 bytes. */
    write_file("short.bin", 0, 2, 100);
    snprintf(path, sizeof path, "%s/short.bin", dir);
    snprintf(want, sizeof want,
             "%s: 6246 bytes is not a whole number of 3073-byte CIFAR-10 records (a label byte "
             "and 3072 pixel bytes): record 2 at byte 6146 has only 100 bytes",
             path);
    expect(sn_cifar_load_file(path, 0, 0, &d, &err), &err, SN_ERR_FORMAT, want);
    CHECK(d.x == NULL && d.n == 0);
    /* A limit does not skip the size check of the whole file. */
    expect(sn_cifar_load_file(path, 1, 0, &d, &err), &err, SN_ERR_FORMAT, "record 2 at byte 6146");

    /* A label outside 0-9 in record 3. */
    write_file("label.bin", 0, 5, 0);
    set_byte("label.bin", 3L * REC, 10);
    snprintf(path, sizeof path, "%s/label.bin", dir);
    snprintf(want, sizeof want, "%s: record 3 (byte 9219): label 10 is not a CIFAR-10 class (0-9)",
             path);
    expect(sn_cifar_load_file(path, 0, 0, &d, &err), &err, SN_ERR_FORMAT, want);
    /* ... which a limit of 3 records never reads. */
    CHECK(sn_cifar_load_file(path, 3, 0, &d, &err) == SN_OK && d.n == 3);
    sn_dataset_free(&d);

    /* CIFAR-100's 3074-byte records. */
    snprintf(path, sizeof path, "%s/c100.bin", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 3 * 3074; i++) fputc(1, f);
    fclose(f);
    expect(sn_cifar_load_file(path, 0, 0, &d, &err), &err, SN_ERR_FORMAT,
           "3074-byte records are CIFAR-100's format");

    write_file("empty.bin", 0, 0, 0);
    snprintf(path, sizeof path, "%s/empty.bin", dir);
    expect(sn_cifar_load_file(path, 0, 0, &d, &err), &err, SN_ERR_FORMAT, "empty file");
    snprintf(path, sizeof path, "%s/none.bin", dir);
    expect(sn_cifar_load_file(path, 0, 0, &d, &err), &err, SN_ERR_IO, "none.bin: cannot open");
    expect(sn_cifar_load_file(dir, 0, 0, &d, &err), &err, SN_ERR_IO, "not a regular file");

    /* A bad third training file fails the whole split, naming that file. */
    write_file("data_batch_3.bin", 3, 2, 7);
    expect(sn_cifar_load_dir(dir, "train", 0, 0, &d, &err), &err, SN_ERR_FORMAT,
           "data_batch_3.bin: 6153 bytes");
    CHECK(d.x == NULL && d.labels == NULL);
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    unlink(path);
    expect(sn_cifar_load_dir(dir, "train", 0, 0, &d, &err), &err, SN_ERR_IO,
           "data_batch_3.bin: missing");
}

static void test_class_names(void) {
    char names[10][32];
    sn_error err = {0};
    write_text("batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\n"
                                   "ship\r\ntruck\n\n");
    CHECK(sn_cifar_class_names(dir, names, &err) == SN_OK);
    CHECK(strcmp(names[0], "airplane") == 0 && strcmp(names[8], "ship") == 0 &&
          strcmp(names[9], "truck") == 0);
    write_text("batches.meta.txt", "a\nb\nc\n");
    expect(sn_cifar_class_names(dir, names, &err), &err, SN_ERR_FORMAT,
           "batches.meta.txt: 3 class names, expected 10");
    write_text("batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n");
    expect(sn_cifar_class_names(dir, names, &err), &err, SN_ERR_FORMAT,
           "batches.meta.txt:11: more than 10 class names");
    write_text("batches.meta.txt", "a\nan-extremely-long-class-name-over-31-bytes\n");
    expect(sn_cifar_class_names(dir, names, &err), &err, SN_ERR_FORMAT,
           "batches.meta.txt:2: class name longer than 31 bytes");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/sn-cifar-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_good_dir();
    test_malformed();
    test_class_names();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    CHECK(system(cmd) == 0);
    return check_report();
}
