/* libFuzzer target: the PSP translator behind mod_python._psp (a page's
 * text, translated on the first request for it and after every edit).
 * Checks properties, not just "does not crash":
 *   - text without "<%" becomes exactly one req.write of that text,
 *     escaped (checked against an escaper written here);
 *   - the same holds for the input with every '<' made '[';
 *   - the output is bounded by a linear function of the input;
 *   - translating twice gives the same output;
 *   - includes: "self" is the input itself (so it nests until the depth
 *     limit stops it), names starting with 'e' fail with ENOENT, others
 *     are a small template. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp_psp.h"

typedef struct {
    const char *input;
    size_t len;
    int loads;
} fuzz_files;

static int load(void *data, const char *name, size_t nlen, char **text, size_t *len)
{
    static const char small[] = "I<% if x:\n %>\"<%= 1 %>";
    fuzz_files *f = data;
    const char *src = small;
    size_t n = sizeof(small) - 1;

    assert(nlen > 0 && !memchr(name, '"', nlen) && !memchr(name, ' ', nlen));
    if (name[0] == 'e')
        return ENOENT;
    if (nlen == 4 && !memcmp(name, "self", 4)) {
        src = f->input;
        n = f->len;
    }
    *text = malloc(n ? n : 1);
    memcpy(*text, src, n);
    *len = n;
    f->loads++;
    return 0;
}

/* What plain text must become. */
static char *expected_text(const char *s, size_t n, size_t *outlen)
{
    static const char open[] = "req.write(\"\"\"", close[] = "\"\"\",0)\n";
    char *out = malloc(sizeof(open) + 4 * n + sizeof(close)), *p = out;

    if (n == 0) {
        *outlen = 0;
        return out;
    }
    memcpy(p, open, sizeof(open) - 1);
    p += sizeof(open) - 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            *p++ = '\\';
            *p++ = s[i];
        } else if (s[i] == '\0') {
            memcpy(p, "\\x00", 4);
            p += 4;
        } else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            *p++ = '\n';
            i++;
        } else {
            *p++ = s[i];
        }
    }
    memcpy(p, close, sizeof(close) - 1);
    p += sizeof(close) - 1;
    *outlen = (size_t)(p - out);
    return out;
}

static int has_tag(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '<' && s[i + 1] == '%')
            return 1;
    return 0;
}

/* Plain text: exactly the expected write. */
static void check_text(const char *s, size_t n)
{
    mp_psp_buf out = { 0 };
    size_t wlen;
    char *want = expected_text(s, n, &wlen);

    assert(mp_psp_translate(s, n, NULL, NULL, &out) == 0);
    assert(out.len == wlen && (wlen == 0 || !memcmp(out.data, want, wlen)));
    free(want);
    mp_psp_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    fuzz_files f = { s, size, 0 };
    mp_psp_buf a = { 0 }, b = { 0 };
    int rc, rc2;

    memcpy(s, data, size);   /* not NUL-terminated: the translator takes a length */
    rc = mp_psp_translate(s, size, load, &f, &a);
    assert(rc == 0 || rc == ENOENT || rc == MP_PSP_TOO_DEEP || rc == MP_PSP_TOO_MANY);
    assert(f.loads <= MP_PSP_MAX_INCLUDES);
    /* linear: every file read (the input, each include: the input or the
     * small one) gives at most 40 bytes a byte, and 64 more */
    assert(a.len <= (size_t)(f.loads + 1) * (40 * (size > 32 ? size : 32) + 64));
    f.loads = 0;
    rc2 = mp_psp_translate(s, size, load, &f, &b);
    assert(rc2 == rc && a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len)));
    mp_psp_buf_free(&a);
    mp_psp_buf_free(&b);
    if (!has_tag(s, size))
        check_text(s, size);
    for (size_t i = 0; i < size; i++)
        if (s[i] == '<')
            s[i] = '[';
    check_text(s, size);
    free(s);
    return 0;
}
