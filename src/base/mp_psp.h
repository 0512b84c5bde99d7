/* The PSP translator (Python Server Pages, mod_python.psp): a template in,
 * the Python source that writes it out.  Pure C, no Python, no httpd, so
 * it can be fuzzed on its own (test/fuzz/fuzz_psp.c); _apache.psp_parse /
 * psp_parsestring (objects/mp_pspfn.c) give it to Python as mod_python._psp.
 *
 * The language, and the source it becomes, as mod_python 3.5 made it (its
 * output, byte for byte, checked against 3.5's parser by test_psp.py):
 *   text          req.write("""text""",0)   ('"' escaped; "\r\n" is "\n")
 *   <% code %>    the code as it is ("\r" and "\r\n" made "\n").  A code
 *                 block on one line is set between ';'.  One that spans
 *                 lines is followed by the indentation of its last line
 *                 (of the line before, when the last is empty), so the
 *                 text after it continues at that indentation, inside a
 *                 loop say; a block of less indentation ends that.  When
 *                 the code's last character (leaving out line breaks and
 *                 the indentation of lines) is ':', a tab is added: that
 *                 opens the block, "<%\nfor x in y:\n%>".
 *   <%= expr %>   req.write(str(expr),0); a ':' ending it counts as the
 *                 code's last character for the next code block
 *   <%-- ... --%> nothing
 *   <%@ include file="name" %>  the named file's text, read in place
 *                 (names hold no space or '"'); any other <%@ ... %> is
 *                 nothing.  Unclosed tags run to the end of the template.
 * One deliberate difference: 3.5 left a backslash of the text as it was,
 * so "\n" in a page's text (in its JavaScript, say) became a newline; here
 * text is written exactly as it is (a backslash is escaped, as is NUL).
 * Another: an included file ending inside a tag goes on in the file that
 * included it (3.5 ended the whole translation there). */
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
