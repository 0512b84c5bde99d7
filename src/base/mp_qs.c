/* Query-string parsing (the rules are in mp_qs.h). */
#include "base/mp_qs.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t mp_qs_unquote(char *dst, const char *src, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        int hi, lo;
        if (src[i] == '+') {
            dst[o++] = ' ';
            i++;
        } else if (src[i] == '%' && n - i >= 3 && (hi = hexval(src[i + 1])) >= 0 &&
                   (lo = hexval(src[i + 2])) >= 0) {
            dst[o++] = (char)(hi << 4 | lo);
            i += 3;
        } else {
            dst[o++] = src[i++];
        }
    }
    return o;
}

/* The next field of qs[0..len) from *pos: its start and length; *pos moves
 * past its separator.  0 when there is none left.  An empty qs has no
 * field; "&" has two, both empty (as Python's urllib.parse counts). */
static int next_field(const char *qs, size_t len, size_t *pos, const char **f, size_t *flen)
{
    size_t end = *pos;

    if (!len || *pos > len)
        return 0;
    while (end < len && qs[end] != '&' && qs[end] != ';')
        end++;
    *f = qs + *pos;
    *flen = end - *pos;
    *pos = end + 1;
    return 1;
}

int mp_qs_parse(const char *qs, size_t len, int flags, char *buf,
                mp_qs_field_fn fn, void *data, const char **bad, size_t *badlen)
{
    size_t pos = 0, flen;
    const char *f;

    while (next_field(qs, len, &pos, &f, &flen)) {
        const char *eq = memchr(f, '=', flen), *val;
        size_t nlen, vlen, nout, vout;
        int rc;

        if (!flen && !(flags & MP_QS_STRICT))
            continue;
        if (!eq && (flags & MP_QS_STRICT)) {
            *bad = f;
            *badlen = flen;
            return MP_QS_BAD_FIELD;
        }
        if (!eq && !(flags & MP_QS_KEEP_BLANK))
            continue;
        nlen = eq ? (size_t)(eq - f) : flen;
        val = eq ? eq + 1 : f + flen;
        vlen = eq ? flen - nlen - 1 : 0;
        if (!vlen && !(flags & MP_QS_KEEP_BLANK))
            continue;
        /* name and value are disjoint parts of qs: each is unquoted into
         * the same place of buf, where it cannot overrun the other */
        nout = mp_qs_unquote(buf + (f - qs), f, nlen);
        vout = mp_qs_unquote(buf + (val - qs), val, vlen);
        if ((rc = fn(data, buf + (f - qs), nout, buf + (val - qs), vout)))
            return rc;
    }
    return 0;
}
