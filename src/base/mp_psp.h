/* The PSP translator (Python Server Pages, mod_python.psp): a template in,
 * the Python source that writes it out.  Pure C, no Python, no httpd, so
 * it can be fuzzed on its own (test/fuzz/fuzz_psp.c); _apache.psp_parse /
 * psp_parsestring (objects/mp_pspfn.c) give it to Python as mod_python._psp.
 *
 * The language, and the source it becomes, as mod_python 3.5 made it:
 *   text          req.write("""text""",0)   ('"' escaped; "\r\n" is "\n")
 *   <% code %>    the code as it is, between ';' (one line), or on lines of
 *                 its own: then the text after it is indented like the
 *                 code's last line (the last non-blank one when the block
 *                 ends on a new line), and one tab more when the code ends
 *                 with ':' -- so "<% for x in y: %>" opens a block that
 *                 the next block with less indentation closes
 *   <%= expr %>   req.write(str(expr),0)
 *   <%-- ... --%> nothing
 *   <%@ include file="name" %>  the named file's text, in place (names
 *                 hold no space or '"'); any other <%@ ... %> is nothing
 * One deliberate difference: 3.5 left a backslash of the text as it was,
 * so "\n" in a page's text (in its JavaScript, say) became a newline; here
 * text is written exactly as it is (a backslash is escaped, as is NUL). */
#ifndef MP_PSP_H
#define MP_PSP_H

#include <stddef.h>

/* Includes nest at most this deep (a file including itself stops here),
 * and a translation reads at most this many (one including itself twice
 * would read 2^depth). */
#define MP_PSP_MAX_DEPTH 16
#define MP_PSP_MAX_INCLUDES 256

/* mp_psp_translate()'s results besides 0 (success) and a loader's errno. */
#define MP_PSP_NOMEM    (-1)
#define MP_PSP_TOO_DEEP (-2)
#define MP_PSP_TOO_MANY (-3)

typedef struct {
    char *data;   /* malloc'd, not NUL-terminated */
    size_t len, cap;
} mp_psp_buf;

/* Read the file an include directive names: name[0..nlen) (it may hold a
 * NUL).  Returns 0 with *text a malloc'd buffer of *len bytes (the
 * translator frees it), or an errno value (> 0), which ends the
 * translation with that result. */
typedef int (*mp_psp_load_fn)(void *data, const char *name, size_t nlen,
                              char **text, size_t *len);

/* Translate src[0..len) into out (zeroed by the caller; freed with
 * mp_psp_buf_free whatever the result).  `load` reads included files: with
 * NULL, an include directive is an error (ENOENT).  Returns 0,
 * MP_PSP_NOMEM, MP_PSP_TOO_DEEP, MP_PSP_TOO_MANY, or the errno `load`
 * returned. */
int mp_psp_translate(const char *src, size_t len, mp_psp_load_fn load, void *data,
                     mp_psp_buf *out);

void mp_psp_buf_free(mp_psp_buf *b);

#endif
