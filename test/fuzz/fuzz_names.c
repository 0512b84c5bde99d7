/* libFuzzer target: the text a user writes that mod_python parses itself:
 * handler specs (module[::object]), import_module() name forms, and the
 * path normalisation every import goes through.  Checks properties, not
 * just "does not crash". */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp_names.h"

static void check_normalise(const char *in)
{
    size_t n = strlen(in);
    char *a = malloc(n + 2), *b;

    a[0] = '/';
    memcpy(a + 1, in, n + 1);
    mp_path_normalise(a);
    /* absolute, no longer than the input, no "//", "/./", "/../" left */
    assert(a[0] == '/');
    assert(strlen(a) <= n + 1);
    assert(!strstr(a, "//"));
    assert(!strstr(a, "/./") && !strstr(a, "/../"));
    assert(strcmp(a, "/.") != 0 && strcmp(a, "/..") != 0);
    n = strlen(a);
    assert(n == 1 || !(n >= 2 && !strcmp(a + n - 2, "/.")));
    /* idempotent */
    b = strdup(a);
    mp_path_normalise(b);
    assert(!strcmp(a, b));
    free(a);
    free(b);
}

static void check_spec(const char *spec)
{
    size_t n = strlen(spec);
    char *module = malloc(n + 1);
    const char *object = NULL;

    if (mp_split_handler_spec(spec, "handler", module, n + 1, &object) == 0) {
        assert(*module && object && mp_is_dotted_identifier(object));
        assert(strlen(module) <= n);
        assert(!strncmp(spec, module, strlen(module)));
        assert(strchr(module, '/') || mp_is_dotted_identifier(module));
        /* a module never holds "::" (the first one splits) */
        assert(!strstr(module, "::"));
    }
    free(module);
}

static void check_classify(const char *name)
{
    mp_name_form f = mp_name_classify(name);

    switch (f) {
    case MP_NAME_ABSOLUTE: assert(name[0] == '/'); break;
    case MP_NAME_HOME: assert(!strncmp(name, "~/", 2)); break;
    case MP_NAME_RELATIVE: assert(name[0] == '.'); break;
    case MP_NAME_DOTTED: assert(strchr(name, '.') && !strchr(name, '/')); break;
    case MP_NAME_PLAIN: assert(*name && !strchr(name, '.') && !strchr(name, '/')); break;
    case MP_NAME_INVALID: assert(!*name || strchr(name, '/')); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    memcpy(s, data, size);
    s[size] = '\0';  /* C strings: stop at the first NUL, as httpd does */
    check_normalise(s);
    check_spec(s);
    check_classify(s);
    free(s);
    return 0;
}
