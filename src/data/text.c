/* Text corpora and token vocabularies: char (UTF-8 code point), byte and
 * word level (see sn_vocab in scratchnet.h for the tokenization rules).
 *
 * A vocabulary holds each token's text in one arena; char and byte tokens
 * are also kept as sorted code points (lookup by binary search), word tokens
 * in an open-addressing hash table (FNV-1a, linear probing). */
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UNK       "<unk>"
#define PARAGRAPH "\n\n"
#define MAX_TOKEN 64 /* bytes of a word token; longer runs are cut */

struct sn_vocab {
    sn_text_level level;
    int n;
    char *arena;    /* token texts, each NUL-terminated */
    size_t *offset; /* [n] start of token i in arena */
    size_t *len;    /* [n] its byte length */
    uint32_t *code; /* [n] char/byte level: the code point (byte), increasing */
    int *table;     /* word level: [table_size] token ids, −1 empty */
    size_t table_size;
};

/* ---- levels and files ------------------------------------------------------ */

sn_status sn_text_level_parse(const char *s, sn_text_level *out, sn_error *err) {
    if (strcmp(s, "char") == 0)
        *out = SN_TEXT_CHAR;
    else if (strcmp(s, "byte") == 0)
        *out = SN_TEXT_BYTE;
    else if (strcmp(s, "word") == 0)
        *out = SN_TEXT_WORD;
    else
        return sn_fail(err, SN_ERR_FORMAT, "unknown text level '%s' (expected char, byte or word)",
                       s);
    return SN_OK;
}

const char *sn_text_level_name(sn_text_level l) {
    return l == SN_TEXT_CHAR ? "char" : l == SN_TEXT_BYTE ? "byte" : "word";
}

sn_status sn_text_read_file(const char *path, char **text, size_t *len, sn_error *err) {
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return sn_fail(err, SN_ERR_IO, "%s: is a directory, not a text file", path);
    }
    sn_status s = SN_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        s = sn_fail(err, SN_ERR_IO, "%s: cannot determine the size (not a regular file?)", path);
    else if (size > (1L << 30))
        s = sn_fail(err, SN_ERR_FORMAT, "%s: %ld bytes, more than the 1 GiB a corpus may have",
                    path, size);
    char *buf = s == SN_OK ? sn_alloc((size_t)size + 1, 1) : NULL;
    if (s == SN_OK && !buf) s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    if (s == SN_OK && fread(buf, 1, (size_t)size, f) != (size_t)size)
        s = sn_fail(err, SN_ERR_IO, "%s: read error", path);
    fclose(f);
    if (s != SN_OK) {
        sn_free(buf);
        return s;
    }
    buf[size] = 0;
    *text = buf;
    *len = (size_t)size;
    return SN_OK;
}

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Decodes the code point at s[*i] (len bytes in all) and advances *i; 0 on
 * invalid UTF-8 (overlong forms, surrogates, > U+10FFFF, truncation). */
static int utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp) {
    unsigned c = s[*i];
    int extra = c < 0x80             ? 0
                : (c & 0xE0) == 0xC0 ? 1
                : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3
                                     : -1;
    if (extra < 0 || *i + (size_t)extra >= len) return 0;
    uint32_t v = extra == 0 ? c : c & (0x3Fu >> extra);
    for (int k = 1; k <= extra; k++) {
        unsigned d = s[*i + (size_t)k];
        if ((d & 0xC0) != 0x80) return 0;
        v = v << 6 | (d & 0x3F);
    }
    static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
    if (v < least[extra] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *i += (size_t)extra + 1;
    *cp = v;
    return 1;
}

static int utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static sn_status bad_utf8(const char *text, size_t len, size_t at, sn_error *err) {
    return sn_fail(err, SN_ERR_FORMAT,
                   "byte %zu: invalid UTF-8 (byte 0x%02x); use the byte level for such text", at,
                   at < len ? (unsigned char)text[at] : 0u);
}

/* ---- word tokenizer -------------------------------------------------------- */

/* Punctuation beyond ASCII: ‘ ’ “ ” – — … « » */
static int is_mark_cp(uint32_t cp) {
    return (cp >= 0x2013 && cp <= 0x2026) || cp == 0xAB || cp == 0xBB;
}

static int is_word_cp(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    return !is_mark_cp(cp) && cp != 0xA0; /* no-break space separates */
}

static uint32_t lower_cp(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32; /* Latin-1 capitals */
    return cp;
}

/* The next word-level token of text[*pos..len) into tok (NUL-terminated,
 * at most MAX_TOKEN bytes); returns its length, 0 at the end, −1 on invalid
 * UTF-8 (*pos is then the offending byte). */
static int next_word(const char *text, size_t len, size_t *pos, char *tok) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = *pos;
    int newlines = 0, started = i > 0;
    uint32_t cp = 0;
    for (;;) { /* white space; a blank line makes a paragraph token */
        if (i >= len) {
            *pos = i;
            return 0;
        }
        size_t j = i;
        if (!utf8_next(s, len, &j, &cp)) {
            *pos = i;
            return -1;
        }
        /* NUL separates too: word tokens are kept as C strings. */
        int space = cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n' || cp == '\v' ||
                    cp == '\f' || cp == 0xA0 || cp == 0;
        if (!space) break;
        newlines += cp == '\n';
        i = j;
    }
    if (newlines >= 2 && started) {
        *pos = i;
        memcpy(tok, PARAGRAPH, 3);
        return 2;
    }
    int n = 0;
    if (is_word_cp(cp)) { /* cp: the first code point after the white space */
        while (i < len) {
            size_t k = i;
            if (!utf8_next(s, len, &k, &cp)) break;
            int apostrophe = cp == '\'' || cp == 0x2019;
            if (apostrophe) { /* inside a word only: a letter must follow */
                size_t q = k;
                uint32_t next;
                if (n == 0 || q >= len || !utf8_next(s, len, &q, &next) || !is_word_cp(next)) break;
            } else if (!is_word_cp(cp)) {
                break;
            }
            char buf[4];
            int b = utf8_put(apostrophe ? '\'' : lower_cp(cp), buf);
            if (n + b > MAX_TOKEN) break;
            memcpy(tok + n, buf, (size_t)b);
            n += b;
            i = k;
        }
    } else { /* a mark, or a run of the same mark */
        uint32_t first = cp;
        while (i < len && n + 4 <= MAX_TOKEN) {
            size_t k = i;
            if (!utf8_next(s, len, &k, &cp) || cp != first) break;
            n += utf8_put(cp, tok + n);
            i = k;
        }
    }
    tok[n] = 0;
    *pos = i;
    return n;
}

/* ---- hash table of strings ------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Counting words while building: entries in insertion order. */
typedef struct counter {
    char *arena;
    size_t arena_len, arena_cap;
    size_t *off;
    int *count, n, cap;
    int *table;
    size_t size; /* power of two */
} counter;

static int counter_grow_table(counter *c) {
    size_t size = c->size ? c->size * 2 : 1024;
    int *t = sn_alloc(size, sizeof(int));
    if (!t) return 0;
    for (size_t i = 0; i < size; i++) t[i] = -1;
    for (int e = 0; e < c->n; e++) {
        const char *w = c->arena + c->off[e];
        size_t h = fnv1a(w, strlen(w)) & (size - 1);
        while (t[h] >= 0) h = (h + 1) & (size - 1);
        t[h] = e;
    }
    sn_free(c->table);
    c->table = t;
    c->size = size;
    return 1;
}

static int counter_add(counter *c, const char *w, int len) {
    if ((size_t)c->n * 2 >= c->size && !counter_grow_table(c)) return 0;
    size_t h = fnv1a(w, (size_t)len) & (c->size - 1);
    for (; c->table[h] >= 0; h = (h + 1) & (c->size - 1)) {
        int e = c->table[h];
        if (strcmp(c->arena + c->off[e], w) == 0) {
            c->count[e]++;
            return 1;
        }
    }
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 1024;
        size_t *off = realloc(c->off, (size_t)cap * sizeof *off);
        if (off) c->off = off;
        int *count = realloc(c->count, (size_t)cap * sizeof *count);
        if (count) c->count = count;
        if (!off || !count) return 0;
        c->cap = cap;
    }
    if (c->arena_len + (size_t)len + 1 > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap * 2 : 65536;
        char *a = realloc(c->arena, cap);
        if (!a) return 0;
        c->arena = a;
        c->arena_cap = cap;
    }
    memcpy(c->arena + c->arena_len, w, (size_t)len + 1);
    c->off[c->n] = c->arena_len;
    c->count[c->n] = 1;
    c->arena_len += (size_t)len + 1;
    c->table[h] = c->n++;
    return 1;
}

static void counter_free(counter *c) {
    free(c->arena);
    free(c->off);
    free(c->count);
    sn_free(c->table);
}

/* ---- the vocabulary -------------------------------------------------------- */

void sn_vocab_free(sn_vocab *v) {
    if (!v) return;
    sn_free(v->arena);
    sn_free(v->offset);
    sn_free(v->len);
    sn_free(v->code);
    sn_free(v->table);
    sn_free(v);
}

int sn_vocab_size(const sn_vocab *v) {
    return v->n;
}

sn_text_level sn_vocab_level(const sn_vocab *v) {
    return v->level;
}

const char *sn_vocab_token(const sn_vocab *v, int id, size_t *len) {
    if (id < 0 || id >= v->n) return NULL;
    if (len) *len = v->len[id];
    return v->arena + v->offset[id];
}

/* A vocabulary of n tokens with arena_size bytes of text, empty. */
static sn_vocab *vocab_new(sn_text_level level, int n, size_t arena_size) {
    sn_vocab *v = sn_alloc(1, sizeof *v);
    if (!v) return NULL;
    v->level = level;
    v->n = n;
    v->arena = sn_alloc(arena_size + 1, 1);
    v->offset = sn_alloc((size_t)n, sizeof(size_t));
    v->len = sn_alloc((size_t)n, sizeof(size_t));
    if (level == SN_TEXT_WORD) {
        v->table_size = 16;
        while (v->table_size < 2 * (size_t)n) v->table_size *= 2;
        v->table = sn_alloc(v->table_size, sizeof(int));
        if (v->table)
            for (size_t i = 0; i < v->table_size; i++) v->table[i] = -1;
    } else {
        v->code = sn_alloc((size_t)n, sizeof(uint32_t));
    }
    if (!v->arena || !v->offset || !v->len || (!v->table && !v->code)) {
        sn_vocab_free(v);
        return NULL;
    }
    return v;
}

/* Appends token `id` (already counted in n) of len bytes. */
static void vocab_set(sn_vocab *v, int id, const char *text, size_t len, size_t *used) {
    v->offset[id] = *used;
    v->len[id] = len;
    memcpy(v->arena + *used, text, len);
    v->arena[*used + len] = 0;
    *used += len + 1;
    if (v->table) {
        size_t h = fnv1a(text, len) & (v->table_size - 1);
        while (v->table[h] >= 0) h = (h + 1) & (v->table_size - 1);
        v->table[h] = id;
    }
}

static int vocab_find_word(const sn_vocab *v, const char *w, size_t len) {
    size_t h = fnv1a(w, len) & (v->table_size - 1);
    for (; v->table[h] >= 0; h = (h + 1) & (v->table_size - 1)) {
        int id = v->table[h];
        if (v->len[id] == len && memcmp(v->arena + v->offset[id], w, len) == 0) return id;
    }
    return -1;
}

static int vocab_find_code(const sn_vocab *v, uint32_t cp) {
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (v->code[mid] == cp) return mid;
        if (v->code[mid] < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int sn_vocab_find(const sn_vocab *v, const char *token, size_t len) {
    if (v->level == SN_TEXT_WORD) return vocab_find_word(v, token, len);
    size_t i = 0;
    uint32_t cp = len ? (unsigned char)token[0] : 0;
    if (len == 0 || (v->level == SN_TEXT_BYTE && len != 1)) return -1;
    if (v->level == SN_TEXT_CHAR &&
        (!utf8_next((const unsigned char *)token, len, &i, &cp) || i != len))
        return -1;
    return vocab_find_code(v, cp);
}

static sn_status build_chars(const char *text, size_t len, sn_text_level level, sn_vocab **out,
                             sn_error *err) {
    const unsigned char *s = (const unsigned char *)text;
    size_t ncodes = level == SN_TEXT_CHAR ? 0x110000 : 256;
    unsigned char *seen = sn_alloc(ncodes, 1);
    if (!seen) return sn_fail(err, SN_ERR_NOMEM, "vocabulary: out of memory");
    size_t top = 0; /* 1 + the largest code seen: the scans below stop there */
    for (size_t i = 0; i < len;) {
        uint32_t cp = s[i];
        if (level == SN_TEXT_BYTE) {
            i++;
        } else if (!utf8_next(s, len, &i, &cp)) {
            sn_free(seen);
            return bad_utf8(text, len, i, err);
        }
        seen[cp] = 1;
        if (cp >= top) top = (size_t)cp + 1;
    }
    ncodes = top;
    int n = 0;
    for (size_t c = 0; c < ncodes; c++) n += seen[c];
    sn_vocab *v = n >= 2 ? vocab_new(level, n, (size_t)n * 4) : NULL;
    if (n < 2) {
        sn_free(seen);
        return sn_fail(err, SN_ERR_FORMAT,
                       "the text has only one distinct %s; a model needs at least 2 to choose "
                       "from",
                       level == SN_TEXT_CHAR ? "character" : "byte");
    }
    if (!v) {
        sn_free(seen);
        return sn_fail(err, SN_ERR_NOMEM, "vocabulary: out of memory");
    }
    size_t used = 0;
    int id = 0;
    for (size_t c = 0; c < ncodes; c++) {
        if (!seen[c]) continue;
        char buf[4];
        size_t b = 1;
        if (level == SN_TEXT_CHAR)
            b = (size_t)utf8_put((uint32_t)c, buf);
        else
            buf[0] = (char)c;
        v->code[id] = (uint32_t)c;
        vocab_set(v, id++, buf, b, &used);
    }
    sn_free(seen);
    *out = v;
    return SN_OK;
}

/* Most frequent first; ties: first occurrence first. */
typedef struct ranked {
    int count, first;
} ranked;

static int by_count(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static sn_status build_words(const char *text, size_t len, int max_words, sn_vocab **out,
                             sn_error *err) {
    counter c;
    memset(&c, 0, sizeof c);
    char tok[MAX_TOKEN + 4];
    size_t pos = 0;
    int ok = 1, got;
    while (ok && (got = next_word(text, len, &pos, tok)) != 0) {
        if (got < 0) {
            counter_free(&c);
            return bad_utf8(text, len, pos, err);
        }
        ok = counter_add(&c, tok, got);
    }
    ranked *order = ok ? malloc((size_t)(c.n ? c.n : 1) * sizeof *order) : NULL;
    if (!order) {
        counter_free(&c);
        return sn_fail(err, SN_ERR_NOMEM, "vocabulary: out of memory");
    }
    if (c.n < 1) {
        free(order);
        counter_free(&c);
        return sn_fail(err, SN_ERR_FORMAT, "the text has no words");
    }
    for (int i = 0; i < c.n; i++) order[i] = (ranked){c.count[i], i};
    qsort(order, (size_t)c.n, sizeof *order, by_count);
    int keep = c.n < max_words ? c.n : max_words;
    size_t bytes = sizeof UNK;
    for (int i = 0; i < keep; i++) bytes += strlen(c.arena + c.off[order[i].first]) + 1;
    sn_vocab *v = vocab_new(SN_TEXT_WORD, keep + 1, bytes);
    if (v) {
        size_t used = 0;
        vocab_set(v, 0, UNK, strlen(UNK), &used);
        for (int i = 0; i < keep; i++) {
            const char *w = c.arena + c.off[order[i].first];
            vocab_set(v, i + 1, w, strlen(w), &used);
        }
    }
    free(order);
    counter_free(&c);
    if (!v) return sn_fail(err, SN_ERR_NOMEM, "vocabulary: out of memory");
    *out = v;
    return SN_OK;
}

sn_status sn_vocab_build(const char *text, size_t len, sn_text_level level, int max_words,
                         sn_vocab **out, sn_error *err) {
    *out = NULL;
    if (len == 0) return sn_fail(err, SN_ERR_FORMAT, "the text is empty");
    if (level == SN_TEXT_WORD) {
        if (max_words < 1)
            return sn_fail(err, SN_ERR_ARG, "the number of words must be positive, got %d",
                           max_words);
        return build_words(text, len, max_words, out, err);
    }
    return build_chars(text, len, level, out, err);
}

/* ---- encoding and decoding ------------------------------------------------- */

sn_status sn_vocab_encode(const sn_vocab *v, const char *text, size_t len, int **ids, size_t *n,
                          sn_error *err) {
    *ids = NULL;
    *n = 0;
    /* at most one token per byte */
    int *out = sn_alloc(len ? len : 1, sizeof(int));
    if (!out) return sn_fail(err, SN_ERR_NOMEM, "encoding: out of memory");
    const unsigned char *s = (const unsigned char *)text;
    size_t k = 0, pos = 0;
    sn_status st = SN_OK;
    if (v->level == SN_TEXT_WORD) {
        char tok[MAX_TOKEN + 4];
        int got;
        while ((got = next_word(text, len, &pos, tok)) > 0) {
            int id = vocab_find_word(v, tok, (size_t)got);
            out[k++] = id < 0 ? 0 : id;
        }
        if (got < 0) st = bad_utf8(text, len, pos, err);
    } else {
        while (pos < len) {
            size_t at = pos;
            uint32_t cp = s[pos];
            if (v->level == SN_TEXT_BYTE) {
                pos++;
            } else if (!utf8_next(s, len, &pos, &cp)) {
                st = bad_utf8(text, len, pos, err);
                break;
            }
            int id = vocab_find_code(v, cp);
            if (id < 0) {
                char shown[8] = "";
                if (v->level == SN_TEXT_CHAR && cp >= 0x20 && cp != 0x7F)
                    shown[utf8_put(cp, shown)] = 0;
                st = sn_fail(err, SN_ERR_FORMAT,
                             v->level == SN_TEXT_CHAR
                                 ? "byte %zu: '%s' (U+%04X) is not in the model's vocabulary"
                                 : "byte %zu: %s0x%02X is not in the model's vocabulary",
                             at, shown, (unsigned)cp);
                break;
            }
            out[k++] = id;
        }
    }
    if (st != SN_OK) {
        sn_free(out);
        return st;
    }
    *ids = out;
    *n = k;
    return SN_OK;
}

/* Word-level spacing: marks that attach to the previous token, to the next,
 * or to both. */
static int closes(const char *t) {
    return (t[0] && strchr(".,;:!?)]}", t[0])) || strncmp(t, "\xE2\x80\x99", 3) == 0 ||
           strncmp(t, "\xE2\x80\x9D", 3) == 0 || strncmp(t, "\xE2\x80\xA6", 3) == 0 ||
           strncmp(t, "\xC2\xBB", 2) == 0;
}
static int opens(const char *t) {
    return (t[0] && strchr("([{", t[0])) || strncmp(t, "\xE2\x80\x98", 3) == 0 ||
           strncmp(t, "\xE2\x80\x9C", 3) == 0 || strncmp(t, "\xC2\xAB", 2) == 0;
}
static int joins(const char *t) {
    return t[0] == '-' || strncmp(t, "\xE2\x80\x93", 3) == 0 ||
           strncmp(t, "\xE2\x80\x94", 3) == 0 || t[0] == '/';
}

sn_status sn_vocab_decode(const sn_vocab *v, const int *ids, size_t n, char **out, sn_error *err) {
    return sn_vocab_decode_n(v, ids, n, out, NULL, err);
}

sn_status sn_vocab_decode_n(const sn_vocab *v, const int *ids, size_t n, char **out, size_t *nout,
                            sn_error *err) {
    *out = NULL;
    if (nout) *nout = 0;
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->n)
            return sn_fail(err, SN_ERR_ARG, "decoding: token id %d at %zu is not in 0..%d", ids[i],
                           i, v->n - 1);
        cap += v->len[ids[i]] + 1;
    }
    char *s = sn_alloc(cap, 1);
    if (!s) return sn_fail(err, SN_ERR_NOMEM, "decoding: out of memory");
    size_t k = 0;
    int glue = 1, sentence = 1, quote_open = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = v->arena + v->offset[ids[i]];
        size_t len = v->len[ids[i]];
        if (v->level != SN_TEXT_WORD) {
            memcpy(s + k, t, len);
            k += len;
            continue;
        }
        if (strcmp(t, PARAGRAPH) == 0) {
            memcpy(s + k, t, 2);
            k += 2;
            glue = sentence = 1;
            quote_open = 0;
            continue;
        }
        int is_quote = t[0] == '"' && len == 1;
        int attach = closes(t) || joins(t) || (is_quote && quote_open) || t[0] == '\'';
        if (!glue && !attach) s[k++] = ' ';
        size_t at = k;
        memcpy(s + k, t, len);
        k += len;
        int letter = (t[0] >= 'a' && t[0] <= 'z');
        if (letter && (sentence || (len == 1 && t[0] == 'i') ||
                       (t[0] == 'i' && (t[1] == '\'')))) /* "i", "i'm", "i'll" */
            s[at] = (char)(t[0] - 32);
        size_t q = 0;
        uint32_t cp = 0;
        utf8_next((const unsigned char *)t, len, &q, &cp);
        if (is_word_cp(cp) || ids[i] == 0) sentence = 0; /* a word or <unk> */
        if (strchr(".!?", t[0])) sentence = 1;
        glue = opens(t) || joins(t) || (is_quote && !quote_open);
        if (is_quote) quote_open = !quote_open;
    }
    s[k] = 0;
    *out = s;
    if (nout) *nout = k;
    return SN_OK;
}

/* ---- serialization ----------------------------------------------------------
 *   scratchnet-vocab-1 LEVEL COUNT\n  then one token per line, with \\ \n and
 *   bytes below 0x20, 0x7F and (byte level) above as \xHH. */

sn_status sn_vocab_serialize(const sn_vocab *v, char **out, sn_error *err) {
    size_t cap = 64;
    for (int i = 0; i < v->n; i++) cap += 4 * v->len[i] + 1;
    char *s = sn_alloc(cap, 1);
    if (!s) return sn_fail(err, SN_ERR_NOMEM, "vocabulary: out of memory");
    size_t k =
        (size_t)snprintf(s, cap, "scratchnet-vocab-1 %s %d\n", sn_text_level_name(v->level), v->n);
    for (int i = 0; i < v->n; i++) {
        const unsigned char *t = (const unsigned char *)v->arena + v->offset[i];
        for (size_t j = 0; j < v->len[i]; j++) {
            unsigned c = t[j];
            if (c == '\\') {
                s[k++] = '\\', s[k++] = '\\';
            } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && v->level == SN_TEXT_BYTE)) {
                k += (size_t)snprintf(s + k, cap - k, "\\x%02X", c);
            } else {
                s[k++] = (char)c;
            }
        }
        s[k++] = '\n';
    }
    s[k] = 0;
    *out = s;
    return SN_OK;
}

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

sn_status sn_vocab_parse(const char *s, sn_vocab **out, sn_error *err) {
    *out = NULL;
    char level_name[16];
    int n, used_chars = 0;
    if (sscanf(s, "scratchnet-vocab-1 %15s %d%n", level_name, &n, &used_chars) != 2 || n < 1 ||
        n > (1 << 24) || s[used_chars] != '\n')
        return sn_fail(err, SN_ERR_FORMAT,
                       "vocabulary: bad header (expected "
                       "'scratchnet-vocab-1 LEVEL COUNT')");
    sn_text_level level;
    sn_status st = sn_text_level_parse(level_name, &level, err);
    if (st != SN_OK) return st;
    const char *p = s + used_chars + 1;
    int lines = 0; /* one token per line: the count must be there before it is allocated */
    for (const char *q = strchr(p, '\n'); q && lines < n; q = strchr(q + 1, '\n')) lines++;
    if (lines < n)
        return sn_fail(err, SN_ERR_FORMAT,
                       "vocabulary: %d tokens announced, but only %d lines follow", n, lines);
    sn_vocab *v = vocab_new(level, n, strlen(p));
    if (!v) return sn_fail(err, SN_ERR_NOMEM, "vocabulary: out of memory");
    size_t used = 0;
    char tok[4 * MAX_TOKEN + 8];
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        for (; *p && *p != '\n'; p++) {
            if (len >= sizeof tok - 1) break;
            if (*p != '\\') {
                tok[len++] = *p;
            } else if (p[1] == '\\') {
                tok[len++] = '\\', p++;
            } else if (p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                tok[len++] = (char)(hexval(p[2]) * 16 + hexval(p[3])), p += 3;
            } else {
                break;
            }
        }
        if (*p != '\n' || len == 0) {
            sn_vocab_free(v);
            return sn_fail(err, SN_ERR_FORMAT, "vocabulary: token %d of %d is malformed", i, n);
        }
        p++;
        if (level != SN_TEXT_WORD) {
            size_t q = 0;
            uint32_t cp = (unsigned char)tok[0];
            int one = level == SN_TEXT_BYTE
                          ? len == 1
                          : utf8_next((const unsigned char *)tok, len, &q, &cp) && q == len;
            if (!one || (i > 0 && cp <= v->code[i - 1])) {
                sn_vocab_free(v);
                return sn_fail(err, SN_ERR_FORMAT,
                               "vocabulary: token %d is not one %s in increasing order", i,
                               level == SN_TEXT_BYTE ? "byte" : "character");
            }
            v->code[i] = cp;
        } else if (vocab_find_word(v, tok, len) >= 0) {
            sn_vocab_free(v);
            return sn_fail(err, SN_ERR_FORMAT, "vocabulary: token %d repeats an earlier one", i);
        }
        vocab_set(v, i, tok, len, &used);
    }
    if (*p) {
        sn_vocab_free(v);
        return sn_fail(err, SN_ERR_FORMAT, "vocabulary: text after the %d tokens", n);
    }
    *out = v;
    return SN_OK;
}
