/* Pure string work on the names the importer and the directives accept:
 * no Python, no httpd, so it can be fuzzed on its own. */
#ifndef MP_NAMES_H
#define MP_NAMES_H

#include <stddef.h>
#include <string.h>

/* Collapse "//", "/./" and "/../" of an absolute path in place, lexically
 * (no syscalls: it runs on every import).  "/.." stays "/". */
void mp_path_normalise(char *path);

typedef enum {
    MP_NAME_INVALID,   /* "a/b", "": an error */
    MP_NAME_ABSOLUTE,  /* "/srv/app/x.py" */
    MP_NAME_HOME,      /* "~/x": relative to the handler's directory */
    MP_NAME_RELATIVE,  /* "./x", "../x": relative to the importing module */
    MP_NAME_DOTTED,    /* "pkg.mod": the standard import's */
    MP_NAME_PLAIN      /* "mod": searched as mod.py */
} mp_name_form;

/* Does the file name or path end in ".py"? */
static inline int mp_is_py_name(const char *name)
{
    size_t n = strlen(name);

    return n >= 3 && strcmp(name + n - 3, ".py") == 0;
}

/* What kind of name import_module() was given. */
mp_name_form mp_name_classify(const char *name);

/* "a", "a.b.c": dotted Python identifiers (ASCII), as handler objects. */
int mp_is_dotted_identifier(const char *s);

/* Split a handler spec "module[::object]" (object defaults to `deflt`,
 * which may be NULL: then *object is NULL when the spec names none).
 * Writes module (NUL-terminated, at most modsize bytes) and points *object
 * into spec or at deflt.  0, or -1 if it is malformed. */
int mp_split_handler_spec(const char *spec, const char *deflt, char *module,
                          size_t modsize, const char **object);

#endif
