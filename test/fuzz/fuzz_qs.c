/* libFuzzer target: the query-string parser behind _apache.parse_qs and
 * parse_qsl (a client's text, parsed on every form request).  Checks
 * properties, not just "does not crash": what it gives back, quoted again
 * and parsed again, is the same list of fields; a bad field under strict
 * parsing is a real field of the input with no '='. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp_qs.h"

typedef struct {
    char *text;      /* the fields quoted again: "n=v&n=v" */
    size_t len, cap;
    size_t total;    /* bytes of names and values given back */
    int n;
    char **got;      /* name NUL value, each field, for the comparison */
    size_t *gotlen;
} fields_t;

static void put(fields_t *f, const char *s, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        f->cap = (f->len + n + 1) * 2;
        f->text = realloc(f->text, f->cap);
    }
    memcpy(f->text + f->len, s, n);
    f->len += n;
}

/* Every byte as %XX: nothing of it is a separator, '+', or '=' any more. */
static void put_quoted(fields_t *f, const char *s, size_t n)
{
    char hex[4];

    for (size_t i = 0; i < n; i++) {
        snprintf(hex, sizeof(hex), "%%%02X", (unsigned char)s[i]);
        put(f, hex, 3);
    }
}

static int collect(void *data, const char *name, size_t nlen, const char *value, size_t vlen)
{
    fields_t *f = data;
    char *copy = malloc(nlen + vlen + 1);

    memcpy(copy, name, nlen);
    copy[nlen] = '\0';
    memcpy(copy + nlen + 1, value, vlen);
    f->got = realloc(f->got, (f->n + 1) * sizeof(*f->got));
    f->gotlen = realloc(f->gotlen, (f->n + 1) * sizeof(*f->gotlen));
    f->got[f->n] = copy;
    f->gotlen[f->n++] = nlen + vlen + 1;
    f->total += nlen + vlen;
    if (f->len)
        put(f, "&", 1);
    put_quoted(f, name, nlen);
    put(f, "=", 1);
    put_quoted(f, value, vlen);
    return 0;
}

static void release(fields_t *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->got[i]);
    free(f->got);
    free(f->gotlen);
    free(f->text);
}

static void check(const char *qs, size_t len, int flags)
{
    fields_t a = { 0 }, b = { 0 };
    char *buf = malloc(len + 1), *buf2;
    const char *bad = NULL;
    size_t badlen = 0;
    int rc = mp_qs_parse(qs, len, flags, buf, collect, &a, &bad, &badlen);

    if (rc == MP_QS_BAD_FIELD) {
        assert(flags & MP_QS_STRICT);
        assert(bad >= qs && bad + badlen <= qs + len);
        assert(!memchr(bad, '=', badlen) && !memchr(bad, '&', badlen) &&
               !memchr(bad, ';', badlen));
        release(&a);
        free(buf);
        return;
    }
    assert(rc == 0 && a.total <= len);
    /* quoted again and parsed again: the same fields (blank values were
     * given back only with KEEP_BLANK, and come back with it) */
    buf2 = malloc(a.len + 1);
    assert(mp_qs_parse(a.text ? a.text : "", a.len, flags & MP_QS_KEEP_BLANK, buf2,
                       collect, &b, &bad, &badlen) == 0);
    assert(a.n == b.n);
    for (int i = 0; i < a.n; i++)
        assert(a.gotlen[i] == b.gotlen[i] && !memcmp(a.got[i], b.got[i], a.gotlen[i]));
    release(&a);
    release(&b);
    free(buf);
    free(buf2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);

    memcpy(s, data, size);   /* not NUL-terminated: the parser takes a length */
    for (int flags = 0; flags < 4; flags++)
        check(s, size, flags);
    free(s);
    return 0;
}
