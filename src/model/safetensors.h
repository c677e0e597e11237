/* safetensors: the weight file format shared with PyTorch / Hugging Face.
 *
 * Layout of a file (https://github.com/huggingface/safetensors):
 *
 *   bytes 0..7      N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N    the header: UTF-8 JSON, one object
 *                     { "__metadata__": { "key": "value", ... },        (optional)
 *                       "name": { "dtype": "F32", "shape": [2, 3],
 *                                 "data_offsets": [begin, end] }, ... }
 *                   padded with spaces so that N is a multiple of 8
 *   bytes 8+N..     the data buffer: each tensor's elements, row-major,
 *                   little-endian; [begin, end) are byte offsets into this
 *                   buffer, and the tensors cover it exactly, without gaps or
 *                   overlaps.
 *
 * scratchnet reads and writes F32 tensors of 0 to 4 dimensions; sn_st_load_any
 * also reads tensors of the other safetensors dtypes (for files written by
 * PyTorch, whose state_dicts hold I64 counters), leaving their conversion or
 * rejection to the caller. The reader is
 * strict: a malformed or hostile file yields SN_ERR_FORMAT with a message
 * naming the file and, where it helps, the byte offset within the header
 * ("model.safetensors: header byte 57: expected ':'"; header byte K is byte
 * 8 + K of the file).
 *
 * Checksums: sn_st_save adds __metadata__ "checksums", a text that other
 * safetensors readers keep as any string:
 *
 *   crc32\n
 *   <8 hex digits> t <tensor name>\n      one line per tensor
 *   <8 hex digits> m <metadata key>\n     one line per other metadata key
 *
 * (names with '\\' and newline written as \\ and \n). A tensor's CRC-32
 * (zlib's crc32) covers its shape as text ("2,3;") then its little-endian
 * bytes; a key's covers its value. The reader checks them when the key is
 * there, so a changed or damaged file is refused naming the tensor or key,
 * as is one with a tensor or key added or removed; a file without the key
 * (from PyTorch, say) is read as before. */
#ifndef SN_MODEL_SAFETENSORS_H
#define SN_MODEL_SAFETENSORS_H

#include "scratchnet.h"

/* Limits the reader enforces (the header limit is the reference's). */
#define SN_ST_MAX_HEADER   100000000 /* bytes of JSON header */
#define SN_ST_MAX_TENSORS  100000
#define SN_ST_MAX_META     100000      /* __metadata__ pairs */
#define SN_ST_MAX_DEPTH    64          /* nesting of JSON objects and arrays */
#define SN_ST_CHECKSUM_KEY "checksums" /* __metadata__ key sn_st_save adds */

/* One tensor of a loaded file. */
typedef struct sn_st_entry {
    char name[128];
    int ndim; /* 0..4 (0 = scalar) */
    int shape[4];
    size_t size;     /* number of elements */
    float *data;     /* F32 data in the file's buffer (64-byte aligned copy);
                        NULL for other dtypes (sn_st_load_any only) */
    char dtype[12];  /* "F32", or "I64", "F16", "BF16", ... (sn_st_load_any) */
    const void *raw; /* the tensor's bytes as stored (little-endian), any dtype */
} sn_st_entry;

/* A loaded file: tensors in header order, metadata, and the storage they
 * point into. Release with sn_st_free. */
typedef struct sn_st_file {
    int n; /* number of tensors */
    sn_st_entry *entries;
    int nmeta; /* __metadata__ string pairs */
    char **meta_keys, **meta_values;
    void *buf; /* owned storage */
} sn_st_file;

/* Writes tensors (F32, little-endian) and string metadata. Written to
 * "<path>.tmp.<pid>" in the same folder, fflush + fsync, then renamed over path
 * (and the folder fsync'ed), so a crash never leaves a half-written file at
 * path. On any error the temp file is removed.
 *
 * Tensors are laid out in the order given. Names must be unique, at most 127
 * bytes, and not "__metadata__"; metadata keys must be unique; all strings must
 * be valid UTF-8 (they are JSON-escaped on the way out), and "checksums" is
 * not a key (it is added, see above). Two threads of one
 * process must not save to the same path at the same time (same temp name). */
sn_status sn_st_save(const char *path, int n, const char *const *names,
                     const sn_tensor *const *tensors, int nmeta, const char *const *meta_keys,
                     const char *const *meta_values, sn_error *err);

/* Reads a whole file into `out` (zeroed first; on error it is left empty). */
/* zlib's CRC-32 of n bytes (any n, beyond zlib's uInt) continuing crc;
 * start from 0. */
uint32_t sn_crc32(uint32_t crc, const void *p, size_t n);

sn_status sn_st_load(const char *path, sn_st_file *out, sn_error *err);

/* Like sn_st_load, but tensors of the other dtypes safetensors defines (F64,
 * F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)
 * are accepted, their byte sizes checked: their entries have data == NULL,
 * their dtype and raw bytes. F32 tensors must still start at a multiple of 4
 * bytes in the data (safetensors writers order tensors by alignment). */
sn_status sn_st_load_any(const char *path, sn_st_file *out, sn_error *err);

/* Same as sn_st_load, from memory (for fuzzing and tests). `bytes` is copied; the caller
 * keeps it. `name_for_errors` prefixes messages, as the path does for load. */
sn_status sn_st_parse(const void *bytes, size_t len, const char *name_for_errors, sn_st_file *out,
                      sn_error *err);

/* The tensor called `name`, or NULL. */
const sn_st_entry *sn_st_find(const sn_st_file *f, const char *name);

/* The metadata value for `key`, or NULL. */
const char *sn_st_meta(const sn_st_file *f, const char *key);

/* Releases everything `f` owns and zeroes it; safe on a zeroed struct. */
void sn_st_free(sn_st_file *f);

#endif
