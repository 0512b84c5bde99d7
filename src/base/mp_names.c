/* Names and paths: normalisation, the importer's name forms, handler
 * specs.  Pure C, fuzzed by test/fuzz/. */
#include "base/mp_names.h"

#include <string.h>

void mp_path_normalise(char *p)
{
    char *out = p, *in = p;

    while (*in) {
        if (in[0] == '/' && in[1] == '/') {
            in++;
        } else if (in[0] == '/' && in[1] == '.' && (in[2] == '/' || !in[2])) {
            in += 2;
        } else if (in[0] == '/' && in[1] == '.' && in[2] == '.' &&
                   (in[3] == '/' || !in[3])) {
            in += 3;
            while (out > p && *--out != '/')
                ;
        } else {
            *out++ = *in++;
        }
    }
    if (out == p)
        *out++ = '/';
    *out = '\0';
}

mp_name_form mp_name_classify(const char *name)
{
    if (name[0] == '/')
        return MP_NAME_ABSOLUTE;
    if (name[0] == '~' && name[1] == '/')
        return MP_NAME_HOME;
    if (strncmp(name, "./", 2) == 0 || strncmp(name, "../", 3) == 0)
        return MP_NAME_RELATIVE;
    if (!name[0] || strchr(name, '/'))
        return MP_NAME_INVALID;
    return strchr(name, '.') ? MP_NAME_DOTTED : MP_NAME_PLAIN;
}

static int ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

int mp_is_dotted_identifier(const char *s)
{
    int start = 1;

    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (start)
                return 0;
            start = 1;
        } else if (ident_start(*s) || (!start && *s >= '0' && *s <= '9')) {
            start = 0;
        } else {
            return 0;
        }
    }
    return !start;
}

int mp_split_handler_spec(const char *spec, const char *deflt, char *module,
                          size_t modsize, const char **object)
{
    const char *sep = strstr(spec, "::");
    size_t n = sep ? (size_t)(sep - spec) : strlen(spec);

    if (n == 0 || n >= modsize)
        return -1;
    memcpy(module, spec, n);
    module[n] = '\0';
    *object = sep ? sep + 2 : deflt;
    if ((sep || deflt) && !mp_is_dotted_identifier(*object))
        return -1;
    /* A module is a dotted name or a file path ("/x.py", "~/x", "./x"). */
    if (!strchr(module, '/') && !mp_is_dotted_identifier(module))
        return -1;
    return 0;
}
