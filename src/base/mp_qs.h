/* Query strings as mod_python 3.5 parsed them (_apache.parse_qs and
 * parse_qsl, behind util.FieldStorage): pure C, no Python, no httpd, so it
 * can be fuzzed on its own (test/fuzz/fuzz_qs.c).
 *
 * Fields are separated by '&' or ';' (3.5, and Python's cgi module of its
 * time); a field's name and value by its first '='.  '+' is a space and
 * %xx (two hex digits) a byte; any other '%' stays as it is.  A field
 * without '=', or with an empty value, is dropped unless MP_QS_KEEP_BLANK
 * (then its value is empty); an empty field is skipped.  With
 * MP_QS_STRICT a field without '=' (an empty one too) is an error. */
#ifndef MP_QS_H
#define MP_QS_H

#include <stddef.h>

enum { MP_QS_KEEP_BLANK = 1, MP_QS_STRICT = 2 };

/* mp_qs_parse()'s result for a bad field under MP_QS_STRICT. */
#define MP_QS_BAD_FIELD (-1)

/* Called for each field kept, in order, with its unquoted name and value
 * (not NUL-terminated: they may hold NUL bytes).  Non-zero stops the
 * parse, which returns it. */
typedef int (*mp_qs_field_fn)(void *data, const char *name, size_t nlen,
                              const char *value, size_t vlen);

/* Parse qs[0..len).  `buf` has room for len bytes: the unquoted names and
 * values are written there (unquoting never makes text longer).  Returns
 * 0, fn's non-zero result, or MP_QS_BAD_FIELD with *bad / *badlen set to
 * the offending field inside qs. */
int mp_qs_parse(const char *qs, size_t len, int flags, char *buf,
                mp_qs_field_fn fn, void *data, const char **bad, size_t *badlen);

/* Unquote src[0..n) into dst ('+' to space, %xx to a byte); the length
 * written, at most n.  dst may be src. */
size_t mp_qs_unquote(char *dst, const char *src, size_t n);

#endif
