/* A minimal PNG encoder (8-bit greyscale or RGB, no interlacing) as a
 * base64 data: URI, for images inlined in reports.
 *
 *   file  = signature 89 50 4E 47 0D 0A 1A 0A, then chunks
 *   chunk = length (4 bytes, big-endian) | type (4 ASCII) | data | CRC-32
 *           of type and data
 *   IHDR  = width, height (4 bytes each), bit depth 8, colour type 0 (grey)
 *           or 2 (RGB), compression 0, filter 0, interlace 0
 *   IDAT  = zlib stream of the rows, each prefixed by its filter byte (0)
 *   IEND  = empty
 */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends one chunk to out (which has room) and returns the new length. */
static size_t put_chunk(uint8_t *out, size_t len, const char *type, const uint8_t *data, size_t n) {
    put_u32(out + len, (uint32_t)n);
    memcpy(out + len + 4, type, 4);
    if (n && data != out + len + 8) memmove(out + len + 8, data, n);
    uLong crc = crc32(0L, out + len + 4, (uInt)(n + 4));
    put_u32(out + len + 8 + n, (uint32_t)crc);
    return len + 12 + n;
}

static void base64(sn_buf *b, const uint8_t *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        sn_buf_put(b, q, 4);
    }
}

void sn_png_data_uri(sn_buf *b, const uint8_t *pixels, int w, int h, int channels) {
    size_t row = (size_t)w * (size_t)channels + 1, raw_len = row * (size_t)h;
    uint8_t *raw = malloc(raw_len);
    uLongf zlen = compressBound((uLong)raw_len);
    uint8_t *png = malloc(8 + 25 + 12 + zlen + 12);
    if (!raw || !png) {
        free(raw);
        free(png);
        b->oom = 1;
        return;
    }
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * row] = 0;
        memcpy(raw + (size_t)y * row + 1, pixels + (size_t)y * (row - 1), row - 1);
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(png, sig, 8);
    uint8_t ihdr[13];
    put_u32(ihdr, (uint32_t)w);
    put_u32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;
    ihdr[9] = channels == 3 ? 2 : 0;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    size_t len = put_chunk(png, 8, "IHDR", ihdr, sizeof ihdr);
    /* Compress straight into the IDAT chunk's data field. */
    if (compress2(png + len + 8, &zlen, raw, (uLong)raw_len, 9) != Z_OK) {
        free(raw);
        free(png);
        b->oom = 1;
        return;
    }
    len = put_chunk(png, len, "IDAT", png + len + 8, zlen);
    len = put_chunk(png, len, "IEND", NULL, 0);
    sn_buf_puts(b, "data:image/png;base64,");
    base64(b, png, len);
    free(raw);
    free(png);
}
