/* The training configuration's keys: one table (config.c) from which the
 * spec's [train] parser, the defaults, the checkpoint's "config" field and
 * the "key value" lines of a run's run.txt are all made. Adding a key to
 * sn_train_config is one row there. */
#ifndef SN_TRAIN_CONFIG_H
#define SN_TRAIN_CONFIG_H

#include "scratchnet.h"

#include <stddef.h>

typedef enum sn_key_type {
    SN_KEY_FLOAT,  /* float, range [lo, hi] with open ends as `bounds` says */
    SN_KEY_INT,    /* int, an integer in the range */
    SN_KEY_U64,    /* uint64_t */
    SN_KEY_BOOL,   /* int 0/1; written yes, no, 0 or 1 */
    SN_KEY_CHOICE, /* char[16] holding one of `choices` */
    SN_KEY_MODE,   /* int: the index of one of `choices` */
    SN_KEY_LIST    /* the schedule's milestones: "30,80" ("-": none) */
} sn_key_type;

enum {
    SN_KEY_HEAD = 1, /* the first word of its line: "optimizer adam ...", "schedule cosine ..." */
    SN_KEY_ALSO_TOP = 2,  /* also given on a line of its own ("patience 5") */
    SN_KEY_MAY_CHANGE = 4 /* not in a checkpoint: may change when a training is resumed */
};

typedef struct sn_train_key {
    const char *name;  /* checkpoint "name=value", run.txt "name value" */
    const char *line;  /* the [train] line it is given on: NULL for its own line
                          ("name value", or name=value after "optimizer NAME") */
    const char *key;   /* its key on that line (NULL: name) */
    const char *alias; /* another spelling of the key, or NULL */
    sn_key_type type;
    size_t offset;      /* of the field in sn_train_config */
    const char *bounds; /* "[]", "[)", "(]" or "()": whether lo and hi are allowed */
    double lo, hi;
    const char *const *choices; /* CHOICE, MODE: the values, NULL-terminated */
    const char *def;            /* the default, as written in a spec */
    const char *example;        /* a valid value other than the default (tests) */
    unsigned flags;
} sn_train_key;

extern const sn_train_key sn_train_keys[];
extern const int sn_train_nkeys;

/* Forms of a value: as a checkpoint stores it (exact: floats %.9g, booleans
 * and modes as numbers) or as run.txt shows it (floats in the fewest digits
 * that read back to the same float, yes/no, names). */
enum { SN_FORM_CHECKPOINT, SN_FORM_TEXT };

/* The key's value in c as text. */
void sn_train_key_format(const sn_train_key *k, const sn_train_config *c, int form, char *buf,
                         size_t len);
/* Sets the key in c from text, checked against its type and range; the
 * error names the key as the spec writes it. */
sn_status sn_train_key_parse(const sn_train_key *k, sn_train_config *c, const char *val,
                             sn_error *err);
/* The key as a spec writes it ("lr", "patience", "value" of clip). */
void sn_train_key_spec_name(const sn_train_key *k, char *buf, size_t len);

/* Every key at its default. */
void sn_train_config_defaults(sn_train_config *c);

/* One [train] line split into n words (n >= 1). *set collects the keys
 * given explicitly (bit i: sn_train_keys[i]), for the optimizer's defaults. */
sn_status sn_train_config_parse_line(sn_train_config *c, uint64_t *set, int n, char **w,
                                     sn_error *err);

/* The checkpoint's "config" field: "name=value" for every key not marked
 * SN_KEY_MAY_CHANGE, space-separated. */
void sn_train_config_write(const sn_train_config *c, char *buf, size_t len);
/* Reads such a text into c (keys it lacks keep c's values); *present gets
 * bit i for each key read. */
sn_status sn_train_config_read(const char *text, sn_train_config *c, uint64_t *present,
                               sn_error *err);
/* Compares c with a stored text on every key the text has: SN_OK when they
 * agree, else SN_ERR_ARG with "the checkpoint was made with K=V, this
 * training has K=W" (`what` prefixes the message). */
sn_status sn_train_config_check(const char *text, const sn_train_config *c, const char *what,
                                sn_error *err);

#endif
