#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sn_status_name(sn_status s) {
    switch (s) {
    case SN_OK:
        return "ok";
    case SN_ERR_IO:
        return "I/O error";
    case SN_ERR_FORMAT:
        return "format error";
    case SN_ERR_NOMEM:
        return "out of memory";
    case SN_ERR_ARG:
        return "invalid argument";
    case SN_ERR_SHAPE:
        return "shape mismatch";
    case SN_ERR_NUMERIC:
        return "numeric error";
    case SN_ERR_INTERRUPTED:
        return "interrupted";
    }
    return "unknown error";
}

sn_status sn_fail(sn_error *err, sn_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

sn_status sn_wrap(sn_error *err, const char *fmt, ...) {
    if (!err) return SN_ERR_ARG;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k + 2 < sizeof err->msg) {
        size_t room = sizeof err->msg - (size_t)k - 2;
        memcpy(err->msg + k, ": ", 2);
        size_t n = strlen(old) < room ? strlen(old) : room - 1;
        memcpy(err->msg + k + 2, old, n);
        err->msg[k + 2 + n] = 0;
    }
    return err->code;
}
