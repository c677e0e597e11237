/* safetensors reader and writer. The format is laid out in safetensors.h.
 *
 * Reading takes three steps:
 *   1. the 8-byte header length N is checked against the file size and the
 *      100 MB limit, before anything is allocated;
 *   2. the header is parsed by a small, strict JSON parser (RFC 8259, recursive
 *      descent, nesting limited to SN_ST_MAX_DEPTH) into a list of tensors with
 *      their byte ranges; the ranges must tile the data buffer exactly;
 *   3. the data buffer is copied into 64-byte aligned storage that the entries
 *      point into, and checked against __metadata__ "checksums" if present. Tensors begin at
 * multiples of 4 bytes (they tile the buffer from byte 0 and each is 4 * size bytes long), so the
 * floats are aligned.
 *
 * Writing builds the header in memory (one pass to measure, one to fill), then
 * writes header and data to a temporary file that is synced and renamed over
 * the destination. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fsync, fileno, getpid, open */
#endif

#include "model/safetensors.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Returns the status of `expr` from the enclosing function unless it is SN_OK. */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        sn_status try_st_ = (expr);                                                                \
        if (try_st_ != SN_OK) return try_st_;                                                      \
    } while (0)

/* ---- byte order --------------------------------------------------------- */

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static uint64_t read_le64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static void write_le64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

/* Reverses the 4 bytes of each float (little- <-> big-endian). */
static void swap_floats(void *data, size_t n) {
    unsigned char *p = data;
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned char t0 = p[0], t1 = p[1];
        p[0] = p[3];
        p[1] = p[2];
        p[2] = t1;
        p[3] = t0;
    }
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the longest valid UTF-8 prefix of s[0..n) (RFC 3629: no overlong
 * forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0; /* overlong */
            if (c == 0xED) hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90; /* overlong */
            if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else {
            return i;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

static int utf8_valid(const char *s) {
    size_t n = strlen(s);
    return utf8_valid_prefix((const unsigned char *)s, n) == n;
}

/* Writes code point cp (at most U+10FFFF) as UTF-8; returns the byte count. */
static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- a strict JSON parser ------------------------------------------------
 *
 *   value  = object | array | string | number | true | false | null
 *   object = '{' [ string ':' value { ',' string ':' value } ] '}'
 *   array  = '[' [ value { ',' value } ] ']'
 *   number = [ '-' ] ( '0' | digit1-9 { digit } ) [ '.' digits ] [ ('e'|'E') [ '+'|'-' ] digits ]
 *   string = '"' { unescaped byte >= 0x20 except '"' and '\' | escape } '"'
 *   escape = '\' ( '"' | '\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u' hex hex hex hex )
 *
 * Whitespace (space, tab, LF, CR) may surround any token. A \uXXXX escape in
 * D800..DBFF must be followed by one in DC00..DFFF (a surrogate pair encoding
 * one code point above U+FFFF). */

typedef struct json {
    const char *s; /* the header text, s[0..len) */
    size_t len, pos;
    int depth;        /* objects and arrays currently open */
    const char *file; /* for messages */
    char ctx[160];    /* what is being parsed, e.g. `tensor "w"`; may be empty */
    int any_dtype;    /* accept every safetensors dtype, not only F32 */
    sn_error *err;
} json;

static sn_status json_fail(json *j, const char *fmt, ...) SN_PRINTF(2, 3);
static sn_status json_fail(json *j, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sn_fail(j->err, SN_ERR_FORMAT, "%s: header byte %zu: %s%s%s", j->file, j->pos, j->ctx,
                   j->ctx[0] ? ": " : "", msg);
}

static int json_peek(const json *j) {
    return j->pos < j->len ? (unsigned char)j->s[j->pos] : -1;
}

static void json_ws(json *j) {
    while (j->pos < j->len) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        j->pos++;
    }
}

/* "expected <what>, found <the byte at pos>". */
static sn_status json_fail_expected(json *j, const char *what) {
    int c = json_peek(j);
    if (c < 0) return json_fail(j, "expected %s, found the end of the header", what);
    if (c > 0x20 && c < 0x7F) return json_fail(j, "expected %s, found '%c'", what, c);
    return json_fail(j, "expected %s, found byte 0x%02X", what, (unsigned)c);
}

static sn_status json_expect(json *j, char c) {
    json_ws(j);
    if (json_peek(j) != c) {
        char what[4] = {'\'', c, '\'', 0};
        return json_fail_expected(j, what);
    }
    j->pos++;
    return SN_OK;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape whose backslash is at j->pos; the
 * string's closing quote is at `end`. */
static sn_status json_u_escape(json *j, size_t end, uint32_t *out) {
    if (end - j->pos < 6 || j->s[j->pos + 1] != 'u') return json_fail(j, "expected \\uXXXX");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_digit(j->s[j->pos + 2 + (size_t)k]);
        if (d < 0) return json_fail(j, "\\u must be followed by 4 hex digits");
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return SN_OK;
}

/* Parses the string at j->pos. With out != NULL the decoded bytes go into a
 * new NUL-terminated buffer (free with sn_free) and *out_len gets their count;
 * a decoded NUL is then refused, as C strings cannot hold it. With out ==
 * NULL the string is only checked and skipped. */
static sn_status json_string(json *j, char **out, size_t *out_len) {
    if (json_peek(j) != '"') return json_fail_expected(j, "a string");
    /* Find the closing quote; the text between is an upper bound on the
     * decoded length (every escape is at least as long as what it encodes). */
    size_t start = j->pos + 1, end = start;
    while (end < j->len && j->s[end] != '"') end += j->s[end] == '\\' ? 2 : 1;
    if (end >= j->len) return json_fail(j, "unterminated string");
    char *dst = NULL;
    if (out) {
        dst = sn_alloc(end - start + 1, 1);
        if (!dst) return sn_fail(j->err, SN_ERR_NOMEM, "%s: out of memory", j->file);
    }
    size_t n = 0;
    sn_status st = SN_OK;
    j->pos = start;
    while (j->pos < end) {
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c < 0x20) {
            st = json_fail(j, "control character 0x%02X in a string (it must be escaped)", c);
            break;
        }
        if (c != '\\') {
            if (dst) dst[n] = (char)c;
            n++;
            j->pos++;
            continue;
        }
        /* \" \\ \/ \b \f \n \r \t stand for one byte each; \uXXXX for a code point */
        static const char escaped[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
        char e = j->s[j->pos + 1];
        const char *hit = e ? strchr(escaped, e) : NULL;
        if (hit) {
            if (dst) dst[n] = meaning[hit - escaped];
            n++;
            j->pos += 2;
            continue;
        }
        if (e != 'u') {
            if (e > 0x20 && e < 0x7F)
                st = json_fail(j, "invalid escape '\\%c'", e);
            else
                st = json_fail(j, "invalid escape");
            break;
        }
        uint32_t cp, lo;
        if ((st = json_u_escape(j, end, &cp)) != SN_OK) break;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            st = json_fail(j, "unpaired low surrogate \\u%04" PRIX32, cp);
            break;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            size_t high = j->pos;
            j->pos += 6;
            if (j->pos >= end || j->s[j->pos] != '\\' ||
                (st = json_u_escape(j, end, &lo)) != SN_OK || lo < 0xDC00 || lo > 0xDFFF) {
                j->pos = high;
                st = json_fail(j, "high surrogate \\u%04" PRIX32 " is not followed by a low one",
                               cp);
                break;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0 && dst) {
            st = json_fail(j, "\\u0000 (NUL) is not allowed in names or metadata");
            break;
        }
        char utf8[4];
        size_t k = utf8_encode(cp, utf8);
        if (dst) memcpy(dst + n, utf8, k);
        n += k;
        j->pos += 6;
    }
    if (st != SN_OK) {
        sn_free(dst);
        return st;
    }
    j->pos = end + 1;
    if (out) {
        dst[n] = 0;
        *out = dst;
        if (out_len) *out_len = n;
    }
    return SN_OK;
}

/* Parses a number. *is_integer is 0 if it has a fraction or exponent;
 * *value gets the magnitude of an integer and *too_big is set if it does not
 * fit in 64 bits. */
static sn_status json_number(json *j, int *negative, int *is_integer, uint64_t *value,
                             int *too_big) {
    const char *s = j->s;
    size_t p = j->pos, n = j->len;
    *negative = p < n && s[p] == '-';
    if (*negative) p++;
    *value = 0;
    *too_big = 0;
    if (p >= n || s[p] < '0' || s[p] > '9') {
        j->pos = p;
        return json_fail_expected(j, "a digit");
    }
    if (s[p] == '0') {
        p++;
        if (p < n && s[p] >= '0' && s[p] <= '9') {
            j->pos = p;
            return json_fail(j, "numbers must not have leading zeros");
        }
    } else {
        for (; p < n && s[p] >= '0' && s[p] <= '9'; p++) {
            unsigned d = (unsigned)(s[p] - '0');
            if (*value > (UINT64_MAX - d) / 10)
                *too_big = 1;
            else
                *value = *value * 10 + d;
        }
    }
    *is_integer = 1;
    if (p < n && s[p] == '.') {
        *is_integer = 0;
        if (++p >= n || s[p] < '0' || s[p] > '9') {
            j->pos = p;
            return json_fail_expected(j, "a digit after '.'");
        }
        while (p < n && s[p] >= '0' && s[p] <= '9') p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        *is_integer = 0;
        p++;
        if (p < n && (s[p] == '+' || s[p] == '-')) p++;
        if (p >= n || s[p] < '0' || s[p] > '9') {
            j->pos = p;
            return json_fail_expected(j, "a digit in the exponent");
        }
        while (p < n && s[p] >= '0' && s[p] <= '9') p++;
    }
    j->pos = p;
    return SN_OK;
}

/* Parses a non-negative integer that fits in 64 bits; `what` names it in
 * messages, which point at its first byte. */
static sn_status json_uint(json *j, const char *what, uint64_t *out) {
    json_ws(j);
    size_t start = j->pos;
    int negative, is_integer, too_big;
    TRY(json_number(j, &negative, &is_integer, out, &too_big));
    size_t end = j->pos;
    j->pos = start;
    if (!is_integer)
        return json_fail(j, "%s must be an integer, found %.*s", what, (int)(end - start),
                         j->s + start);
    if (negative && (*out != 0 || too_big))
        return json_fail(j, "%s is negative (%.*s)", what, (int)(end - start), j->s + start);
    if (too_big) return json_fail(j, "%s is too large", what);
    j->pos = end;
    return SN_OK;
}

/* Consumes '{' or '[' (after whitespace), counting the nesting depth. */
static sn_status json_open(json *j, char bracket) {
    TRY(json_expect(j, bracket));
    if (j->depth >= SN_ST_MAX_DEPTH) {
        j->pos--;
        return json_fail(j, "nested too deeply (more than %d levels)", SN_ST_MAX_DEPTH);
    }
    j->depth++;
    return SN_OK;
}

/* Steps through the members of an object or array opened by json_open:
 *     for (int first = 1, done;;) { TRY(json_next(j, '}', &first, &done)); if (done) break; ... }
 * Consumes the ',' before every member but the first; sets *done (and closes
 * the bracket) when it finds `close` instead. */
static sn_status json_next(json *j, char close, int *first, int *done) {
    json_ws(j);
    int c = json_peek(j);
    if (!*first && c != close) {
        if (c != ',') return json_fail_expected(j, close == '}' ? "',' or '}'" : "',' or ']'");
        j->pos++;
        json_ws(j);
        c = json_peek(j);
        if (c == close) return json_fail(j, "trailing ',' before '%c'", close);
    }
    *first = 0;
    *done = c == close;
    if (*done) {
        j->pos++;
        j->depth--;
    }
    return SN_OK;
}

/* Parses `"key":` (the key as a new string, see json_string). */
static sn_status json_key(json *j, char **key, size_t *len) {
    json_ws(j);
    TRY(json_string(j, key, len));
    sn_status st = json_expect(j, ':');
    if (st != SN_OK) {
        sn_free(*key);
        *key = NULL;
    }
    return st;
}

static int json_literal(json *j, const char *word) {
    size_t n = strlen(word);
    if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0) return 0;
    j->pos += n;
    return 1;
}

/* Checks and skips any value (used for fields safetensors does not define). */
static sn_status json_skip_value(json *j) {
    json_ws(j);
    int c = json_peek(j);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        TRY(json_open(j, (char)c));
        for (int first = 1, done;;) {
            TRY(json_next(j, close, &first, &done));
            if (done) break;
            if (c == '{') {
                json_ws(j);
                TRY(json_string(j, NULL, NULL));
                TRY(json_expect(j, ':'));
            }
            TRY(json_skip_value(j));
        }
        return SN_OK;
    }
    if (c == '"') return json_string(j, NULL, NULL);
    if (c == '-' || (c >= '0' && c <= '9')) {
        int negative, is_integer, too_big;
        uint64_t value;
        return json_number(j, &negative, &is_integer, &value, &too_big);
    }
    if (json_literal(j, "true") || json_literal(j, "false") || json_literal(j, "null"))
        return SN_OK;
    return json_fail_expected(j, "a JSON value");
}

/* ---- header -> tensors and metadata -------------------------------------- */

/* A tensor while the header is parsed: the entry plus its byte range in the
 * data buffer and where its name stands in the header (for messages). */
typedef struct st_tensor {
    sn_st_entry e;
    uint64_t begin, end;
    size_t where;
} st_tensor;

typedef struct st_pair {
    char *key, *value;
    size_t where;
} st_pair;

typedef struct st_header {
    st_tensor *t; /* tensors in header order */
    int nt, tcap; /* count, allocated */
    st_pair *m;   /* __metadata__ pairs in header order */
    int nm, mcap;
    int have_meta; /* "__metadata__" was seen */
} st_header;

static void st_header_free(st_header *h) {
    for (int i = 0; i < h->nm; i++) {
        sn_free(h->m[i].key);
        sn_free(h->m[i].value);
    }
    sn_free(h->m);
    sn_free(h->t);
    memset(h, 0, sizeof *h);
}

/* Makes room for item n in a growable array of `elem`-byte items. */
static int grow(void **items, int *cap, int n, size_t elem) {
    if (n < *cap) return 1;
    int new_cap = *cap ? *cap * 2 : 16;
    void *p = sn_alloc((size_t)new_cap, elem);
    if (!p) return 0;
    if (n) memcpy(p, *items, (size_t)n * elem);
    sn_free(*items);
    *items = p;
    *cap = new_cap;
    return 1;
}

/* "[2, 3]" */
static void shape_str(char *buf, size_t cap, int ndim, const int *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? ", %d" : "%d", shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* "__metadata__": { "key": "value", ... } */
static sn_status parse_metadata(json *j, st_header *h) {
    json_ws(j);
    if (json_peek(j) != '{') return json_fail_expected(j, "'{' (__metadata__ must be an object)");
    TRY(json_open(j, '{'));
    for (int first = 1, done;;) {
        TRY(json_next(j, '}', &first, &done));
        if (done) return SN_OK;
        json_ws(j);
        if (h->nm >= SN_ST_MAX_META)
            return json_fail(j, "more than %d __metadata__ entries", SN_ST_MAX_META);
        if (!grow((void **)&h->m, &h->mcap, h->nm, sizeof *h->m))
            return sn_fail(j->err, SN_ERR_NOMEM, "%s: out of memory", j->file);
        st_pair *pair = &h->m[h->nm++];
        pair->where = j->pos;
        TRY(json_key(j, &pair->key, NULL));
        json_ws(j);
        if (json_peek(j) != '"')
            return json_fail_expected(j, "a string (__metadata__ values must be strings)");
        TRY(json_string(j, &pair->value, NULL));
    }
}

/* Bytes per element of a safetensors dtype; 0 if it is not one. */
static int dtype_bytes(const char *dtype) {
    static const struct {
        const char *name;
        int bytes;
    } known[] = {{"F32", 4}, {"F64", 8}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
                 {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
                 {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(dtype, known[i].name)) return known[i].bytes;
    return 0;
}

/* name: { "dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end] };
 * other fields are skipped. Messages about a field point at its value. */
static sn_status parse_tensor(json *j, st_tensor *t, uint64_t data_len) {
    sn_st_entry *e = &t->e;
    size_t dtype_pos = 0, shape_pos = 0, offsets_pos = 0; /* 0: field not seen */
    int elem = 4;                                         /* bytes per element */
    json_ws(j);
    size_t object_pos = j->pos;
    if (json_peek(j) != '{') return json_fail_expected(j, "'{' (the tensor's description)");
    TRY(json_open(j, '{'));
    for (int first = 1, done;;) {
        TRY(json_next(j, '}', &first, &done));
        if (done) break;
        json_ws(j);
        size_t key_pos = j->pos;
        char *key;
        TRY(json_key(j, &key, NULL));
        size_t *seen = !strcmp(key, "dtype")          ? &dtype_pos
                       : !strcmp(key, "shape")        ? &shape_pos
                       : !strcmp(key, "data_offsets") ? &offsets_pos
                                                      : NULL;
        if (seen && *seen) {
            j->pos = key_pos;
            sn_status st = json_fail(j, "duplicate field \"%s\"", key);
            sn_free(key);
            return st;
        }
        sn_free(key);
        json_ws(j);
        if (seen) *seen = j->pos;

        if (seen == &dtype_pos) {
            char *dtype;
            TRY(json_string(j, &dtype, NULL));
            elem = dtype_bytes(dtype);
            if (strcmp(dtype, "F32") != 0 && (!j->any_dtype || !elem)) {
                j->pos = dtype_pos;
                sn_status st = j->any_dtype
                                   ? json_fail(j, "unknown dtype %.32s", dtype)
                                   : json_fail(j, "dtype %.32s not supported (only F32)", dtype);
                sn_free(dtype);
                return st;
            }
            snprintf(e->dtype, sizeof e->dtype, "%s", dtype);
            sn_free(dtype);
        } else if (seen == &shape_pos) {
            TRY(json_open(j, '['));
            for (int first_dim = 1, end_dims;;) {
                TRY(json_next(j, ']', &first_dim, &end_dims));
                if (end_dims) break;
                json_ws(j);
                if (e->ndim == SN_MAX_DIMS)
                    return json_fail(j, "shape has more than %d dimensions", SN_MAX_DIMS);
                size_t dim_pos = j->pos;
                uint64_t d;
                TRY(json_uint(j, "shape dimension", &d));
                if (d > INT_MAX) {
                    j->pos = dim_pos;
                    return json_fail(j, "shape dimension %" PRIu64 " is too large", d);
                }
                e->shape[e->ndim++] = (int)d;
            }
        } else if (seen == &offsets_pos) {
            uint64_t v[2];
            int count = 0, too_many = 0;
            TRY(json_open(j, '['));
            for (int first_off = 1, end_offs;;) {
                TRY(json_next(j, ']', &first_off, &end_offs));
                if (end_offs) break;
                if (count == 2) {
                    too_many = 1;
                    break;
                }
                TRY(json_uint(j, "data offset", &v[count++]));
            }
            if (count != 2 || too_many) {
                j->pos = offsets_pos;
                return json_fail(j, "data_offsets must be [begin, end]");
            }
            t->begin = v[0];
            t->end = v[1];
        } else {
            TRY(json_skip_value(j));
        }
    }
    size_t after = j->pos;

    j->pos = object_pos;
    if (!dtype_pos) return json_fail(j, "missing \"dtype\"");
    if (!shape_pos) return json_fail(j, "missing \"shape\"");
    if (!offsets_pos) return json_fail(j, "missing \"data_offsets\"");

    char shape[64];
    shape_str(shape, sizeof shape, e->ndim, e->shape);
    size_t size = 1, bytes;
    j->pos = shape_pos;
    for (int i = 0; i < e->ndim; i++)
        if (!sn_mul_ok(size, (size_t)e->shape[i], &size))
            return json_fail(j, "shape %s has too many elements", shape);
    if (!sn_mul_ok(size, (size_t)elem, &bytes))
        return json_fail(j, "shape %s has too many elements", shape);
    e->size = size;

    j->pos = offsets_pos;
    if (t->end < t->begin)
        return json_fail(j, "data_offsets [%" PRIu64 ", %" PRIu64 "]: end is before begin",
                         t->begin, t->end);
    if (t->end > data_len)
        return json_fail(j,
                         "data_offsets [%" PRIu64 ", %" PRIu64
                         "] run past the end of the data (%" PRIu64 " bytes)",
                         t->begin, t->end, data_len);
    if (t->end - t->begin != (uint64_t)bytes)
        return json_fail(j,
                         "data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                         " bytes, but shape %s of %s needs %zu",
                         t->begin, t->end, t->end - t->begin, shape, e->dtype, bytes);
    if (elem == 4 && !strcmp(e->dtype, "F32") && t->begin % 4 != 0)
        return json_fail(j,
                         "data_offsets [%" PRIu64 ", %" PRIu64
                         "]: F32 data must start at a multiple of 4 bytes",
                         t->begin, t->end);
    j->pos = after;
    return SN_OK;
}

/* The whole header: { "__metadata__": {...}, "name": {...}, ... } */
static sn_status parse_header(json *j, st_header *h, uint64_t data_len) {
    size_t bad = utf8_valid_prefix((const unsigned char *)j->s, j->len);
    if (bad < j->len) {
        j->pos = bad;
        return json_fail(j, "invalid UTF-8");
    }
    json_ws(j);
    if (json_peek(j) != '{') return json_fail_expected(j, "'{' (the header must be a JSON object)");
    TRY(json_open(j, '{'));
    for (int first = 1, done;;) {
        TRY(json_next(j, '}', &first, &done));
        if (done) break;
        json_ws(j);
        size_t where = j->pos;
        char *name;
        size_t len;
        TRY(json_key(j, &name, &len));
        if (!strcmp(name, "__metadata__")) {
            sn_free(name);
            if (h->have_meta) {
                j->pos = where;
                return json_fail(j, "duplicate \"__metadata__\"");
            }
            h->have_meta = 1;
            TRY(parse_metadata(j, h));
            continue;
        }
        size_t after = j->pos;
        sn_status st = SN_OK;
        j->pos = where;
        if (len >= sizeof h->t->e.name)
            st = json_fail(j, "tensor name of %zu bytes is too long (at most %zu)", len,
                           sizeof h->t->e.name - 1);
        else if (h->nt >= SN_ST_MAX_TENSORS)
            st = json_fail(j, "more than %d tensors", SN_ST_MAX_TENSORS);
        else if (!grow((void **)&h->t, &h->tcap, h->nt, sizeof *h->t))
            st = sn_fail(j->err, SN_ERR_NOMEM, "%s: out of memory", j->file);
        if (st != SN_OK) {
            sn_free(name);
            return st;
        }
        j->pos = after;
        st_tensor *t = &h->t[h->nt++];
        memcpy(t->e.name, name, len + 1);
        sn_free(name);
        t->where = where;
        snprintf(j->ctx, sizeof j->ctx, "tensor \"%s\"", t->e.name);
        TRY(parse_tensor(j, t, data_len));
        j->ctx[0] = 0;
    }
    json_ws(j);
    if (j->pos != j->len) return json_fail(j, "trailing characters after the JSON object");
    return SN_OK;
}

static int tensor_by_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->e.name, (*(const st_tensor *const *)b)->e.name);
}

static int tensor_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int pair_by_key(const void *a, const void *b) {
    return strcmp((*(const st_pair *const *)a)->key, (*(const st_pair *const *)b)->key);
}

/* Names and metadata keys are unique; the tensors' byte ranges, sorted,
 * follow one another from byte 0 to the end of the data buffer. */
static sn_status check_layout(const st_header *h, uint64_t data_len, const char *file,
                              sn_error *err) {
    int most = h->nt > h->nm ? h->nt : h->nm;
    void **idx = sn_alloc((size_t)(most ? most : 1), sizeof *idx);
    if (!idx) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", file);
    sn_status st = SN_OK;

    for (int i = 0; i < h->nm; i++) idx[i] = &h->m[i];
    qsort(idx, (size_t)h->nm, sizeof *idx, pair_by_key);
    for (int i = 1; i < h->nm && st == SN_OK; i++) {
        const st_pair *a = idx[i - 1], *b = idx[i];
        if (!strcmp(a->key, b->key))
            st = sn_fail(err, SN_ERR_FORMAT,
                         "%s: header byte %zu: duplicate __metadata__ key \"%.64s\"", file,
                         a->where > b->where ? a->where : b->where, a->key);
    }

    for (int i = 0; i < h->nt; i++) idx[i] = &h->t[i];
    qsort(idx, (size_t)h->nt, sizeof *idx, tensor_by_name);
    for (int i = 1; i < h->nt && st == SN_OK; i++) {
        const st_tensor *a = idx[i - 1], *b = idx[i];
        if (!strcmp(a->e.name, b->e.name))
            st = sn_fail(err, SN_ERR_FORMAT, "%s: header byte %zu: duplicate tensor name \"%s\"",
                         file, a->where > b->where ? a->where : b->where, a->e.name);
    }

    qsort(idx, (size_t)h->nt, sizeof *idx, tensor_by_offset);
    uint64_t covered = 0; /* bytes [0, covered) belong to the tensors seen so far */
    for (int i = 0; i < h->nt && st == SN_OK; i++) {
        const st_tensor *t = idx[i];
        if (t->begin < covered)
            st = sn_fail(err, SN_ERR_FORMAT,
                         "%s: header byte %zu: tensor \"%s\" (bytes %" PRIu64 "..%" PRIu64
                         ") overlaps tensor \"%s\"",
                         file, t->where, t->e.name, t->begin, t->end,
                         ((const st_tensor *)idx[i - 1])->e.name);
        else if (t->begin > covered)
            st = sn_fail(err, SN_ERR_FORMAT,
                         "%s: header byte %zu: gap in the data: bytes %" PRIu64 "..%" PRIu64
                         " before tensor \"%s\" belong to no tensor",
                         file, t->where, covered, t->begin, t->e.name);
        covered = t->end;
    }
    if (st == SN_OK && covered != data_len)
        st = sn_fail(err, SN_ERR_FORMAT,
                     "%s: the data is %" PRIu64 " bytes but the tensors cover only %" PRIu64
                     " (gap at the end)",
                     file, data_len, covered);
    sn_free(idx);
    return st;
}

/* Parses and checks the header text (step 2). */
static sn_status read_header(const char *text, size_t len, uint64_t data_len, const char *file,
                             int any_dtype, st_header *h, sn_error *err) {
    json j = {.s = text, .len = len, .file = file, .any_dtype = any_dtype, .err = err};
    TRY(parse_header(&j, h, data_len));
    return check_layout(h, data_len, file, err);
}

/* ---- checksums ---------------------------------------------------------- */

uint32_t sn_crc32(uint32_t crc, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = (uint32_t)crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return crc;
}

/* A tensor's CRC: its shape as text ("2,3;"), then its n floats as
 * little-endian bytes (`le`: data already holds them so). */
static uint32_t tensor_crc(int ndim, const int *shape, const float *data, size_t n, int le) {
    char dims[64];
    int k = 0;
    for (int d = 0; d < ndim && d < 4; d++)
        k += snprintf(dims + k, sizeof dims - (size_t)k, "%s%d", d ? "," : "", shape[d]);
    k += snprintf(dims + k, sizeof dims - (size_t)k, ";");
    uint32_t crc = sn_crc32((uint32_t)crc32(0L, Z_NULL, 0), dims, (size_t)k);
    if (le) return sn_crc32(crc, data, n * sizeof *data);
    float chunk[1024];
    while (n > 0) {
        size_t c = n < 1024 ? n : 1024;
        memcpy(chunk, data, c * sizeof *data);
        swap_floats(chunk, c);
        crc = sn_crc32(crc, chunk, c * sizeof *data);
        data += c;
        n -= c;
    }
    return crc;
}

static uint32_t text_crc(const char *s) {
    return sn_crc32((uint32_t)crc32(0L, Z_NULL, 0), s, strlen(s));
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* The index of `name` among the n sorted name pointers (each points at a
 * `const char *`), or -1. */
static long find_sorted(const char *const **sorted, long n, const char *name) {
    long lo = 0, hi = n;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        int c = strcmp(*sorted[mid], name);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Checks f against its __metadata__ "checksums" (see safetensors.h); a
 * file without them (written by another program) passes. */
static sn_status verify_checksums(const sn_st_file *f, const char *file, sn_error *err) {
    const char *cs = sn_st_meta(f, SN_ST_CHECKSUM_KEY);
    if (!cs) return SN_OK;
    if (strncmp(cs, "crc32\n", 6) != 0)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: __metadata__ \"" SN_ST_CHECKSUM_KEY "\" does not start with \"crc32\"",
                       file);
    long total = (long)f->n + f->nmeta;
    const char *const **sorted = sn_alloc((size_t)(total ? total : 1), sizeof *sorted);
    unsigned char *seen = sn_alloc((size_t)(total ? total : 1), 1);
    char *name = sn_alloc(strlen(cs) + 1, 1);
    if (!sorted || !seen || !name) {
        sn_free(sorted);
        sn_free(seen);
        sn_free(name);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", file);
    }
    /* tensors at [0, n), metadata at [n, total), each part sorted by name */
    for (int i = 0; i < f->nmeta; i++) sorted[f->n + i] = (const char *const *)&f->meta_keys[i];
    sn_status st = SN_OK;
    /* entries' names are arrays: point at a pointer to each */
    const char **tnames = sn_alloc((size_t)(f->n ? f->n : 1), sizeof *tnames);
    if (!tnames) st = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", file);
    for (int i = 0; st == SN_OK && i < f->n; i++) {
        tnames[i] = f->entries[i].name;
        sorted[i] = &tnames[i];
    }
    if (st == SN_OK) {
        qsort(sorted, (size_t)f->n, sizeof *sorted, name_cmp);
        qsort(sorted + f->n, (size_t)f->nmeta, sizeof *sorted, name_cmp);
    }
    for (const char *p = cs + 6; st == SN_OK && *p;) {
        /* "<8 hex digits> t|m <escaped name>\n" */
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        unsigned long stored = 0;
        int ok = len >= 11 && p[8] == ' ' && (p[9] == 't' || p[9] == 'm') && p[10] == ' ';
        for (int d = 0; ok && d < 8; d++) {
            int h = hex_digit(p[d]);
            ok = h >= 0;
            stored = stored << 4 | (unsigned long)(h < 0 ? 0 : h);
        }
        size_t k = 0;
        for (size_t i = 11; ok && i < len; i++) {
            char c = p[i];
            if (c == '\\') {
                ok = i + 1 < len && (p[i + 1] == '\\' || p[i + 1] == 'n');
                c = ok && p[i + 1] == 'n' ? '\n' : '\\';
                i++;
            }
            name[k++] = c;
        }
        name[k] = 0;
        if (!ok) {
            st = sn_fail(err, SN_ERR_FORMAT,
                         "%s: __metadata__ \"" SN_ST_CHECKSUM_KEY "\": malformed line '%.60s'",
                         file, p);
            break;
        }
        int tensor = p[9] == 't';
        long at =
            tensor ? find_sorted(sorted, f->n, name) : find_sorted(sorted + f->n, f->nmeta, name);
        if (at < 0) {
            st = sn_fail(err, SN_ERR_FORMAT,
                         "%s: %s \"%.128s\" is missing: the file was changed after it was "
                         "written",
                         file, tensor ? "tensor" : "__metadata__ key", name);
            break;
        }
        long slot = tensor ? at : f->n + at;
        uint32_t now;
        if (tensor) {
            const sn_st_entry *e = &f->entries[(const char *const *)sorted[slot] - tnames];
            if (!e->data) {
                st = sn_fail(err, SN_ERR_FORMAT,
                             "%s: tensor \"%.128s\" has a checksum but dtype %s (checksummed "
                             "files hold only F32)",
                             file, name, e->dtype);
                break;
            }
            now = tensor_crc(e->ndim, e->shape, e->data, e->size, 1);
        } else {
            now = text_crc(f->meta_values[(const char *const *)sorted[slot] -
                                          (const char *const *)f->meta_keys]);
        }
        seen[slot] = 1;
        if (now != (uint32_t)stored) {
            st = sn_fail(err, SN_ERR_FORMAT,
                         "%s: %s \"%.128s\" fails its checksum (CRC-32 %08" PRIx32
                         ", recorded %08lx): the file is damaged or was changed",
                         file, tensor ? "tensor" : "__metadata__", name, now, stored);
            break;
        }
        p += len + (eol != NULL);
    }
    for (long i = 0; st == SN_OK && i < total; i++) {
        if (seen[i]) continue;
        const char *n = *sorted[i];
        if (i >= f->n && strcmp(n, SN_ST_CHECKSUM_KEY) == 0) continue;
        st = sn_fail(err, SN_ERR_FORMAT,
                     "%s: %s \"%.128s\" has no checksum: it was added after the file was "
                     "written",
                     file, i < f->n ? "tensor" : "__metadata__ key", n);
    }
    sn_free(tnames);
    sn_free(sorted);
    sn_free(seen);
    sn_free(name);
    return st;
}

/* Moves the parsed tensors and metadata into `out`, pointing the entries into
 * `buf` (the data buffer, which `out` takes over in all cases) (step 3). */
static sn_status build_file(st_header *h, void *buf, size_t data_len, const char *file,
                            sn_st_file *out, sn_error *err) {
    (void)data_len; /* the entries cover it exactly (check_layout) */
    sn_st_entry *entries = sn_alloc((size_t)(h->nt ? h->nt : 1), sizeof *entries);
    char **keys = sn_alloc((size_t)(h->nm ? h->nm : 1), sizeof *keys);
    char **values = sn_alloc((size_t)(h->nm ? h->nm : 1), sizeof *values);
    if (!entries || !keys || !values) {
        sn_free(entries);
        sn_free(keys);
        sn_free(values);
        sn_free(buf);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", file);
    }
    for (int i = 0; i < h->nt; i++) {
        entries[i] = h->t[i].e;
        entries[i].raw = (char *)buf + h->t[i].begin;
        entries[i].data =
            strcmp(entries[i].dtype, "F32") ? NULL : (float *)((char *)buf + h->t[i].begin);
    }
    for (int i = 0; i < h->nm; i++) {
        keys[i] = h->m[i].key;
        values[i] = h->m[i].value;
        h->m[i].key = h->m[i].value = NULL;
    }
    out->n = h->nt;
    out->entries = entries;
    out->nmeta = h->nm;
    out->meta_keys = keys;
    out->meta_values = values;
    out->buf = buf;
    sn_status st = verify_checksums(out, file, err); /* on the little-endian bytes */
    if (st != SN_OK) {
        sn_st_free(out);
        return st;
    }
    if (!host_is_little_endian())
        for (int i = 0; i < out->n; i++)
            if (out->entries[i].data) swap_floats(out->entries[i].data, out->entries[i].size);
    return SN_OK;
}

/* Step 1: the header length read from the first 8 bytes, against the size. */
static sn_status check_header_length(uint64_t n, uint64_t file_size, const char *file,
                                     sn_error *err) {
    if (n > SN_ST_MAX_HEADER)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: header length %" PRIu64 " is larger than the limit of %d bytes", file,
                       n, SN_ST_MAX_HEADER);
    if (n > file_size - 8)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: header length %" PRIu64 " runs past the end of the file (%" PRIu64
                       " bytes)",
                       file, n, file_size);
    return SN_OK;
}

static sn_status too_short(uint64_t size, const char *file, sn_error *err) {
    return sn_fail(err, SN_ERR_FORMAT,
                   "%s: file is %" PRIu64 " bytes, shorter than the 8-byte header length", file,
                   size);
}

sn_status sn_st_parse(const void *bytes, size_t len, const char *name_for_errors, sn_st_file *out,
                      sn_error *err) {
    const char *file = name_for_errors ? name_for_errors : "<memory>";
    if (!out) return sn_fail(err, SN_ERR_ARG, "%s: no output given", file);
    memset(out, 0, sizeof *out);
    if (!bytes && len) return sn_fail(err, SN_ERR_ARG, "%s: no bytes given", file);
    if (len < 8) return too_short(len, file, err);
    const unsigned char *b = bytes;
    uint64_t n = read_le64(b);
    TRY(check_header_length(n, len, file, err));
    const char *header = (const char *)b + 8;
    size_t data_len = len - 8 - (size_t)n;

    st_header h = {0};
    sn_status st = read_header(header, (size_t)n, data_len, file, 0, &h, err);
    void *buf = NULL;
    if (st == SN_OK && !(buf = sn_alloc(data_len, 1)))
        st = sn_fail(err, SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", file, data_len);
    if (st == SN_OK) {
        if (data_len) memcpy(buf, header + n, data_len);
        st = build_file(&h, buf, data_len, file, out, err);
    }
    st_header_free(&h);
    return st;
}

/* Reads exactly n bytes. */
static sn_status read_exact(FILE *fp, void *dst, size_t n, const char *path, sn_error *err) {
    if (fread(dst, 1, n, fp) == n) return SN_OK;
    return sn_fail(err, SN_ERR_IO, "%s: short read (%s)", path,
                   ferror(fp) ? strerror(errno) : "the file shrank while it was read");
}

/* sn_st_load once the file is open and its size known. */
static sn_status load_stream(FILE *fp, uint64_t size, const char *path, int any_dtype,
                             sn_st_file *out, sn_error *err) {
    if (size < 8) return too_short(size, path, err);
    unsigned char len8[8];
    TRY(read_exact(fp, len8, 8, path, err));
    uint64_t n = read_le64(len8);
    TRY(check_header_length(n, size, path, err));
    uint64_t data_len = size - 8 - n;
    if (data_len > SIZE_MAX)
        return sn_fail(err, SN_ERR_NOMEM, "%s: %" PRIu64 " bytes of data do not fit in memory",
                       path, data_len);
    char *header = sn_alloc((size_t)n, 1);
    if (!header) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);

    st_header h = {0};
    sn_status st = read_exact(fp, header, (size_t)n, path, err);
    if (st == SN_OK) st = read_header(header, (size_t)n, data_len, path, any_dtype, &h, err);
    sn_free(header);
    void *buf = NULL;
    if (st == SN_OK && !(buf = sn_alloc((size_t)data_len, 1)))
        st = sn_fail(err, SN_ERR_NOMEM, "%s: cannot allocate %" PRIu64 " bytes", path, data_len);
    if (st == SN_OK) st = read_exact(fp, buf, (size_t)data_len, path, err);
    if (st == SN_OK) {
        st = build_file(&h, buf, (size_t)data_len, path, out, err);
        buf = NULL; /* taken over by out */
    }
    sn_free(buf);
    st_header_free(&h);
    return st;
}

static sn_status load_file(const char *path, int any_dtype, sn_st_file *out, sn_error *err) {
    if (!path || !out) return sn_fail(err, SN_ERR_ARG, "sn_st_load: no path or output given");
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    sn_status st;
    if (fstat(fileno(fp), &sb) != 0)
        st = sn_fail(err, SN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = sn_fail(err, SN_ERR_IO, "%s: not a regular file", path);
    else
        st = load_stream(fp, (uint64_t)sb.st_size, path, any_dtype, out, err);
    fclose(fp);
    return st;
}

sn_status sn_st_load(const char *path, sn_st_file *out, sn_error *err) {
    return load_file(path, 0, out, err);
}

sn_status sn_st_load_any(const char *path, sn_st_file *out, sn_error *err) {
    return load_file(path, 1, out, err);
}

const sn_st_entry *sn_st_find(const sn_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
    return NULL;
}

const char *sn_st_meta(const sn_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

void sn_st_free(sn_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->nmeta; i++) {
        sn_free(f->meta_keys[i]);
        sn_free(f->meta_values[i]);
    }
    sn_free(f->meta_keys);
    sn_free(f->meta_values);
    sn_free(f->entries);
    sn_free(f->buf);
    memset(f, 0, sizeof *f);
}

/* ---- writing ------------------------------------------------------------ */

/* Output text; with buf == NULL it only counts (the measuring pass). */
typedef struct writer {
    char *buf;
    size_t len;
} writer;

static void put(writer *w, const char *s, size_t n) {
    if (w->buf) memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_str(writer *w, const char *s) {
    put(w, s, strlen(s));
}

static void put_u64(writer *w, uint64_t v) {
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    put(w, tmp, (size_t)k);
}

/* A JSON string: '"' and '\' escaped, control characters as \n, \t, ... or
 * \u00XX; other bytes (UTF-8) as they are. */
static void put_json_string(writer *w, const char *s) {
    put(w, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        static const char special[] = "\"\\\b\f\n\r\t", letter[] = "\"\\bfnrt";
        const char *hit = strchr(special, c); /* c != 0 here */
        char esc[8] = "";
        if (hit)
            snprintf(esc, sizeof esc, "\\%c", letter[hit - special]);
        else if (c < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        if (esc[0])
            put_str(w, esc);
        else
            put(w, s, 1);
    }
    put(w, "\"", 1);
}

typedef struct save_args {
    int n;
    const char *const *names;
    const sn_tensor *const *tensors;
    int nmeta;
    const char *const *keys, *const *values;
} save_args;

/* The header: {"__metadata__":{...},"name":{"dtype":"F32","shape":[...],
 * "data_offsets":[b,e]},...} with tensors in the given order, then spaces up
 * to a multiple of 8 bytes. */
static void put_header(writer *w, const save_args *a) {
    put_str(w, "{");
    if (a->nmeta > 0) {
        put_str(w, "\"__metadata__\":{");
        for (int i = 0; i < a->nmeta; i++) {
            if (i) put_str(w, ",");
            put_json_string(w, a->keys[i]);
            put_str(w, ":");
            put_json_string(w, a->values[i]);
        }
        put_str(w, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < a->n; i++) {
        const sn_tensor *t = a->tensors[i];
        if (i || a->nmeta > 0) put_str(w, ",");
        put_json_string(w, a->names[i]);
        put_str(w, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) put_str(w, ",");
            put_u64(w, (uint64_t)t->shape[d]);
        }
        put_str(w, "],\"data_offsets\":[");
        put_u64(w, offset);
        put_str(w, ",");
        offset += 4 * (uint64_t)t->size;
        put_u64(w, offset);
        put_str(w, "]}");
    }
    put_str(w, "}");
    while (w->len % 8) put_str(w, " ");
}

static int str_by_value(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a string that occurs twice among s[0..n): SN_OK with *dup = NULL if
 * there is none. */
static sn_status find_duplicate(const char *const *s, int n, const char **dup) {
    *dup = NULL;
    if (n < 2) return SN_OK;
    const char **sorted = sn_alloc((size_t)n, sizeof *sorted);
    if (!sorted) return SN_ERR_NOMEM;
    memcpy(sorted, s, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, str_by_value);
    for (int i = 1; i < n && !*dup; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) *dup = sorted[i];
    sn_free(sorted);
    return SN_OK;
}

static sn_status check_save_args(const char *path, const save_args *a, sn_error *err) {
    if (!path) return sn_fail(err, SN_ERR_ARG, "sn_st_save: no path given");
    if (a->n < 0 || a->n > SN_ST_MAX_TENSORS || (a->n > 0 && (!a->names || !a->tensors)))
        return sn_fail(err, SN_ERR_ARG, "%s: invalid tensor list (n = %d)", path, a->n);
    if (a->nmeta < 0 || a->nmeta > SN_ST_MAX_META || (a->nmeta > 0 && (!a->keys || !a->values)))
        return sn_fail(err, SN_ERR_ARG, "%s: invalid metadata list (nmeta = %d)", path, a->nmeta);
    uint64_t total = 0;
    for (int i = 0; i < a->n; i++) {
        const char *name = a->names[i];
        const sn_tensor *t = a->tensors[i];
        if (!name || !t)
            return sn_fail(err, SN_ERR_ARG, "%s: tensor %d: no name or tensor", path, i);
        if (strlen(name) > 127)
            return sn_fail(err, SN_ERR_ARG, "%s: tensor %d: name longer than 127 bytes", path, i);
        if (!strcmp(name, "__metadata__"))
            return sn_fail(err, SN_ERR_ARG, "%s: tensor %d: \"__metadata__\" is reserved", path, i);
        if (!utf8_valid(name))
            return sn_fail(err, SN_ERR_ARG, "%s: tensor %d: name is not valid UTF-8", path, i);
        if (t->ndim < 0 || t->ndim > SN_MAX_DIMS)
            return sn_fail(err, SN_ERR_ARG, "%s: tensor \"%s\": %d dimensions (0 to %d allowed)",
                           path, name, t->ndim, SN_MAX_DIMS);
        size_t size = 1;
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0 || !sn_mul_ok(size, (size_t)t->shape[d], &size))
                return sn_fail(err, SN_ERR_ARG, "%s: tensor \"%s\": invalid shape", path, name);
        if (size != t->size || (size && !t->data))
            return sn_fail(err, SN_ERR_ARG,
                           "%s: tensor \"%s\": size %zu or data do not match the shape", path, name,
                           t->size);
        if ((uint64_t)size > (UINT64_MAX - total) / 4)
            return sn_fail(err, SN_ERR_ARG, "%s: tensors too large", path);
        total += 4 * (uint64_t)size;
    }
    for (int i = 0; i < a->nmeta; i++) {
        if (!a->keys[i] || !a->values[i])
            return sn_fail(err, SN_ERR_ARG, "%s: metadata %d: no key or value", path, i);
        if (!utf8_valid(a->keys[i]) || !utf8_valid(a->values[i]))
            return sn_fail(err, SN_ERR_ARG, "%s: metadata \"%.64s\": not valid UTF-8", path,
                           a->keys[i]);
    }
    const char *dup;
    if (find_duplicate(a->names, a->n, &dup) != SN_OK)
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    if (dup) return sn_fail(err, SN_ERR_ARG, "%s: duplicate tensor name \"%s\"", path, dup);
    if (find_duplicate(a->keys, a->nmeta, &dup) != SN_OK)
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    if (dup) return sn_fail(err, SN_ERR_ARG, "%s: duplicate metadata key \"%.64s\"", path, dup);
    for (int i = 0; i < a->nmeta; i++)
        if (strcmp(a->keys[i], SN_ST_CHECKSUM_KEY) == 0)
            return sn_fail(err, SN_ERR_ARG,
                           "%s: metadata key \"" SN_ST_CHECKSUM_KEY "\" is written by sn_st_save",
                           path);
    return SN_OK;
}

/* Writes n floats little-endian. */
static int write_floats(FILE *fp, const float *x, size_t n) {
    if (host_is_little_endian()) return fwrite(x, sizeof *x, n, fp) == n;
    float chunk[1024];
    while (n > 0) {
        size_t k = n < 1024 ? n : 1024;
        memcpy(chunk, x, k * sizeof *x);
        swap_floats(chunk, k);
        if (fwrite(chunk, sizeof *x, k, fp) != k) return 0;
        x += k;
        n -= k;
    }
    return 1;
}

/* fsync of the folder holding `path`, so that the rename is durable. File
 * systems that cannot sync a folder (EINVAL) are let through. */
static int sync_parent_folder(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (slash == path) n = 1; /* "/file" -> "/" */
    char *dir = sn_alloc(n + 1, 1);
    if (!dir) return -1;
    memcpy(dir, slash ? path : ".", n);
    int fd = open(dir, O_RDONLY);
    sn_free(dir);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    if (rc != 0 && errno == EINVAL) rc = 0;
    close(fd);
    return rc;
}

/* Creates `tmp` and writes the whole file into it, synced to disk. *created
 * says whether `tmp` exists (to be removed on failure). */
static sn_status write_temp(const char *tmp, const char *path, const writer *header,
                            const save_args *a, int *created, sn_error *err) {
    FILE *fp = fopen(tmp, "wb");
    *created = fp != NULL;
    if (!fp) return sn_fail(err, SN_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    unsigned char len8[8];
    write_le64(len8, header->len);
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(header->buf, 1, header->len, fp) == header->len;
    for (int i = 0; i < a->n && ok; i++)
        ok = write_floats(fp, a->tensors[i]->data, a->tensors[i]->size);
    ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int saved_errno = errno;
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok)
        return sn_fail(err, SN_ERR_IO, "%s: writing %s failed: %s", path, tmp,
                       strerror(saved_errno));
    return SN_OK;
}

static sn_status save_checked(const char *path, const save_args *a, sn_error *err);

/* Appends s with '\\' and newline escaped. */
static void put_escaped(writer *w, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            put_str(w, "\\\\");
        else if (*s == '\n')
            put_str(w, "\\n");
        else
            put(w, s, 1);
    }
}

/* One line of the checksum list. */
static void put_checksum(writer *w, uint32_t crc, char kind, const char *name) {
    char head[16];
    snprintf(head, sizeof head, "%08" PRIx32 " %c ", crc, kind);
    put_str(w, head);
    put_escaped(w, name);
    put_str(w, "\n");
}

/* The value of __metadata__ "checksums" for a's tensors and metadata. */
static void put_checksums(writer *w, const save_args *a) {
    put_str(w, "crc32\n");
    for (int i = 0; i < a->n; i++) {
        const sn_tensor *t = a->tensors[i];
        put_checksum(w, tensor_crc(t->ndim, t->shape, t->data, t->size, host_is_little_endian()),
                     't', a->names[i]);
    }
    for (int i = 0; i < a->nmeta; i++) put_checksum(w, text_crc(a->values[i]), 'm', a->keys[i]);
}

sn_status sn_st_save(const char *path, int n, const char *const *names,
                     const sn_tensor *const *tensors, int nmeta, const char *const *meta_keys,
                     const char *const *meta_values, sn_error *err) {
    save_args a = {n, names, tensors, nmeta, meta_keys, meta_values};
    TRY(check_save_args(path, &a, err));
    /* the caller's metadata, then the checksums of everything */
    writer sums = {0};
    put_checksums(&sums, &a); /* measure */
    const char **keys = sn_alloc((size_t)nmeta + 1, sizeof *keys);
    const char **values = sn_alloc((size_t)nmeta + 1, sizeof *values);
    sums.buf = sn_alloc(sums.len + 1, 1);
    if (!keys || !values || !sums.buf) {
        sn_free(keys);
        sn_free(values);
        sn_free(sums.buf);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    sums.len = 0;
    put_checksums(&sums, &a); /* fill */
    sums.buf[sums.len] = 0;
    for (int i = 0; i < nmeta; i++) keys[i] = meta_keys[i], values[i] = meta_values[i];
    keys[nmeta] = SN_ST_CHECKSUM_KEY;
    values[nmeta] = sums.buf;
    a.nmeta = nmeta + 1;
    a.keys = keys;
    a.values = values;
    sn_status st = save_checked(path, &a, err);
    sn_free(keys);
    sn_free(values);
    sn_free(sums.buf);
    return st;
}

static sn_status save_checked(const char *path, const save_args *ap, sn_error *err) {
    save_args a = *ap;

    writer header = {0};
    put_header(&header, &a); /* measure */
    if (header.len > SN_ST_MAX_HEADER)
        return sn_fail(err, SN_ERR_ARG, "%s: header of %zu bytes exceeds the limit of %d", path,
                       header.len, SN_ST_MAX_HEADER);
    size_t tmp_cap = strlen(path) + 32;
    char *tmp = sn_alloc(tmp_cap, 1);
    header.buf = sn_alloc(header.len, 1);
    if (!header.buf || !tmp) {
        sn_free(header.buf);
        sn_free(tmp);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    header.len = 0;
    put_header(&header, &a); /* fill */
    snprintf(tmp, tmp_cap, "%s.tmp.%ld", path, (long)getpid());

    int created;
    sn_status st = write_temp(tmp, path, &header, &a, &created, err);
    if (st == SN_OK && rename(tmp, path) != 0)
        st = sn_fail(err, SN_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != SN_OK && created) remove(tmp);
    if (st == SN_OK && sync_parent_folder(path) != 0)
        st = sn_fail(err, SN_ERR_IO, "%s: written, but syncing its folder failed: %s", path,
                     strerror(errno));
    sn_free(tmp);
    sn_free(header.buf);
    return st;
}
