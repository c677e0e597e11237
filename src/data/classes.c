/* Class names: from a file (one name per line), from the data folder
 * (classes.txt, or CIFAR-10's batches.meta.txt), Fashion-MNIST's built-in
 * names, or the label numbers. See sn_class_names_load in scratchnet.h for
 * the order of the rules. */
#include "data/dataset.h"

#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const sn_fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

void sn_class_names_free(char **names, int K) {
    if (!names) return;
    for (int i = 0; i < K; i++) free(names[i]);
    free(names);
}

static char **names_alloc(int K) {
    return calloc((size_t)K, sizeof(char *));
}

static char *dup_str(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Reads exactly K non-empty lines (trailing blank lines ignored). */
static sn_status read_names(const char *path, int K, char ***out, sn_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char **names = names_alloc(K);
    char line[1024];
    int count = 0, lineno = 0, blank_run = 0;
    sn_status s = names ? SN_OK : sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    while (s == SN_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: line longer than %zu bytes", path, lineno,
                        sizeof line - 2);
            break;
        }
        while (n && isspace((unsigned char)line[n - 1])) line[--n] = 0;
        char *p = line;
        while (isspace((unsigned char)*p)) p++, n--;
        if (!*p) {
            blank_run++;
            continue;
        }
        if (blank_run && count)
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: empty class name on the line before", path,
                        lineno);
        else if (count == K)
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: more than %d class names", path, lineno, K);
        else if (!(names[count++] = dup_str(p, n)))
            s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
        blank_run = 0;
    }
    if (s == SN_OK && ferror(f)) s = sn_fail(err, SN_ERR_IO, "%s: read error", path);
    if (s == SN_OK && count != K)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: %d class names, the data has %d classes", path, count,
                    K);
    fclose(f);
    if (s != SN_OK) {
        sn_class_names_free(names, K);
        return s;
    }
    *out = names;
    return SN_OK;
}

static int is_dir(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether the last component of path (a folder or file name) contains
 * "fashion", in any case. */
static int named_fashion(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/') start--;
    for (size_t i = start; i + 7 <= n; i++) {
        static const char want[] = "fashion";
        size_t j = 0;
        while (j < 7 && tolower((unsigned char)path[i + j]) == want[j]) j++;
        if (j == 7) return 1;
    }
    return 0;
}

static sn_status copy_list(const char *const *list, int K, char ***out, sn_error *err) {
    char **names = names_alloc(K);
    for (int i = 0; names && i < K; i++) {
        char num[16];
        const char *s = list ? list[i] : num;
        snprintf(num, sizeof num, "%d", i);
        if (!(names[i] = dup_str(s, strlen(s)))) {
            sn_class_names_free(names, K);
            names = NULL;
        }
    }
    if (!names) return sn_fail(err, SN_ERR_NOMEM, "class names: out of memory");
    *out = names;
    return SN_OK;
}

sn_status sn_class_names_load(const char *data_path, const char *file, const sn_dataset *d, int K,
                              char ***out, sn_error *err) {
    *out = NULL;
    if (K < 1) return sn_fail(err, SN_ERR_ARG, "class names: %d classes", K);
    if (file) return read_names(file, K, out, err);
    if (is_dir(data_path)) {
        char path[4200];
        static const char *const files[] = {"classes.txt", "batches.meta.txt",
                                            "cifar-10-batches-bin/batches.meta.txt"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", data_path, files[i]);
            if (is_file(path)) return read_names(path, K, out, err);
        }
    }
    int shape_ok = !d || d->sample_size == 784;
    if (data_path && K == 10 && shape_ok && named_fashion(data_path))
        return copy_list(sn_fashion_mnist_classes, K, out, err);
    return copy_list(NULL, K, out, err);
}
