/* The PSP translator: see mp_psp.h for the language.  One pass over the
 * template, a state machine whose state outlives a file, so an included
 * file is read as if its text stood in place of the directive. */
#include "base/mp_psp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { TEXT, CODE, EXPR, COMMENT, DIRECTIVE };

#define TEXT_OPEN  "req.write(\"\"\""
#define TEXT_CLOSE "\"\"\",0)"
#define EXPR_OPEN  "; req.write(str("
#define EXPR_CLOSE "),0); "

typedef struct {
    mp_psp_buf *out;
    mp_psp_load_fn load;
    void *data;
    int mode, depth, includes;
    int colon;        /* the last code character that counts was ':' */
    /* the code block being read (an expression's too: it sets `colon`) */
    int seen_nl;      /* it went over a line: no ';' at its end */
    int counted;      /* this line began after "\n": its indentation counts */
    int leading;      /* still in the line's leading blanks */
    int nonempty;     /* this line has characters */
    size_t cur_off, cur_len;    /* this line's indentation, in out */
    size_t prev_off, prev_len;  /* the last finished line's */
} psp_state;

static int reserve(mp_psp_buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->cap - b->len >= n)
        return 0;
    if (n > ((size_t)-1 >> 2) - b->len)
        return MP_PSP_NOMEM;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    if (!(p = realloc(b->data, cap)))
        return MP_PSP_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int put(mp_psp_buf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return MP_PSP_NOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

#define PUTS(st, lit) put((st)->out, lit, sizeof(lit) - 1)

/* Copy out[off..off+n) to its end: reserve first, the data may move. */
static int put_again(mp_psp_buf *b, size_t off, size_t n)
{
    if (reserve(b, n))
        return MP_PSP_NOMEM;
    memcpy(b->data + b->len, b->data + off, n);
    b->len += n;
    return 0;
}

static int starts(const char *s, size_t n, size_t i, const char *lit)
{
    size_t k = strlen(lit);
    return n - i >= k && memcmp(s + i, lit, k) == 0;
}

/* Where `lit` starts from s[i], or n. */
static size_t find(const char *s, size_t n, size_t i, const char *lit)
{
    for (; i < n; i++)
        if (starts(s, n, i, lit))
            return i;
    return n;
}

static void block_start(psp_state *st, int mode)
{
    st->mode = mode;
    st->seen_nl = st->counted = st->nonempty = 0;
    st->leading = 1;
    st->cur_len = st->prev_len = 0;
}

/* "%>": the indentation the text after a code block gets (see mp_psp.h). */
static int block_end(psp_state *st)
{
    int rc = 0;

    st->mode = TEXT;
    if (st->seen_nl && st->nonempty)
        rc = put_again(st->out, st->cur_off, st->cur_len);
    else if (st->seen_nl)
        rc = put_again(st->out, st->prev_off, st->prev_len);
    else
        rc = PUTS(st, ";");
    if (!rc && st->colon)
        rc = PUTS(st, "\t");
    st->colon = 0;
    return rc ? rc : PUTS(st, TEXT_OPEN);
}

/* A line break in code: "\n" and "\r\n" (counted: the next line's
 * indentation counts) or a lone "\r" (it does not), all written "\n". */
static int newline(psp_state *st, int counted)
{
    st->seen_nl = 1;
    st->prev_off = st->cur_off;
    st->prev_len = st->cur_len;
    st->cur_len = 0;
    st->counted = counted;
    st->nonempty = 0;
    st->leading = 1;
    return PUTS(st, "\n");
}

/* Code or an expression, from s[*pi] up to "%>" or the end of s. */
static int block(psp_state *st, const char *s, size_t n, size_t *pi)
{
    size_t i = *pi;
    int rc = 0;

    for (; i < n && !rc; i++) {
        char c = s[i];
        if (c == '%' && i + 1 < n && s[i + 1] == '>') {
            *pi = i + 2;
            if (st->mode == CODE)
                return block_end(st);
            st->mode = TEXT;
            return PUTS(st, EXPR_CLOSE TEXT_OPEN);
        }
        if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
            rc = newline(st, 1);
            i++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            rc = newline(st, c == '\n');
            continue;
        }
        if ((rc = put(st->out, &c, 1)))
            break;
        st->nonempty = 1;
        if (st->leading && (c == ' ' || c == '\t')) {
            if (st->counted) {
                if (st->cur_len++ == 0)
                    st->cur_off = st->out->len - 1;
                continue;
            }
        } else {
            st->leading = 0;
        }
        st->colon = c == ':';
    }
    *pi = i;
    return rc;
}

/* `lit` at s[*i], then at least `min` and at most `max` spaces. */
static int take(const char *s, size_t n, size_t *i, const char *lit, size_t min, size_t max)
{
    size_t k = 0;

    if (!starts(s, n, *i, lit))
        return 0;
    *i += strlen(lit);
    while (k < max && *i < n && s[*i] == ' ')
        k++, (*i)++;
    return k >= min;
}

/* After "<%@": the name of `include file="name"` (name and *nlen, *pi
 * after its closing quote), or NULL for any other directive. */
static const char *include_name(const char *s, size_t n, size_t *pi, size_t *nlen)
{
    size_t i = *pi, start;

    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (!take(s, n, &i, "include", 1, n) || !take(s, n, &i, "file", 0, 1) ||
        !take(s, n, &i, "=", 0, 1) || !take(s, n, &i, "\"", 0, 0))
        return NULL;
    for (start = i; i < n && s[i] != '"' && s[i] != ' '; i++)
        ;
    if (i == start || i == n || s[i] != '"')
        return NULL;
    *nlen = i - start;
    *pi = i + 1;
    return s + start;
}

static int scan(psp_state *st, const char *s, size_t n);

/* The text of an included file, read where the directive stood. */
static int include(psp_state *st, const char *name, size_t nlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (st->depth >= MP_PSP_MAX_DEPTH)
        return MP_PSP_TOO_DEEP;
    if (st->includes++ >= MP_PSP_MAX_INCLUDES)
        return MP_PSP_TOO_MANY;
    if (!st->load)
        return ENOENT;
    if ((rc = st->load(st->data, name, nlen, &text, &len)))
        return rc;
    st->depth++;
    rc = scan(st, text, len);
    st->depth--;
    free(text);
    return rc;
}

/* After "<%@": an include, then (either way) the rest up to "%>". */
static int directive(psp_state *st, const char *s, size_t n, size_t *pi)
{
    size_t nlen = 0, end;
    const char *name = include_name(s, n, pi, &nlen);
    int rc;

    if (!name) {
        st->mode = DIRECTIVE;
        return 0;
    }
    end = find(s, n, *pi, "%>");
    if ((rc = include(st, name, nlen)))
        return rc;
    if (end == n)
        st->mode = DIRECTIVE;   /* never closed: the rest is the directive's */
    *pi = end == n ? n : end + 2;
    return 0;
}

/* After "<%": which kind of tag. */
static int tag(psp_state *st, const char *s, size_t n, size_t *pi)
{
    size_t i = *pi;

    if (starts(s, n, i, "--")) {
        *pi = i + 2;
        st->mode = COMMENT;
        return 0;
    }
    if (i < n && s[i] == '@') {
        *pi = i + 1;
        return directive(st, s, n, pi);
    }
    if (i < n && s[i] == '=') {
        *pi = i + 1;
        block_start(st, EXPR);
        return PUTS(st, TEXT_CLOSE EXPR_OPEN);
    }
    block_start(st, CODE);
    return PUTS(st, TEXT_CLOSE ";");
}

/* Text, from s[*pi] up to a tag or the end of s. */
static int text(psp_state *st, const char *s, size_t n, size_t *pi)
{
    size_t i = *pi;
    int rc = 0;

    for (; i < n && !rc; i++) {
        char c = s[i];
        if (c == '<' && i + 1 < n && s[i + 1] == '%') {
            *pi = i + 2;
            return tag(st, s, n, pi);
        }
        if (c == '"')
            rc = PUTS(st, "\\\"");
        else if (c == '\\')
            rc = PUTS(st, "\\\\");
        else if (c == '\0')
            rc = PUTS(st, "\\x00");
        else if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
            rc = PUTS(st, "\n");
            i++;
        } else
            rc = put(st->out, &c, 1);
    }
    *pi = i;
    return rc;
}

/* A comment or a directive's rest: skipped up to `end`. */
static void skip(psp_state *st, const char *s, size_t n, size_t *pi, const char *end)
{
    size_t at = find(s, n, *pi, end);

    if (at < n) {
        st->mode = TEXT;
        at += strlen(end);
    }
    *pi = at;
}

/* s[0..n) in the current state.  What is unclosed at its end stays open:
 * an included file's block may end in the file that included it. */
static int scan(psp_state *st, const char *s, size_t n)
{
    size_t i = 0;
    int rc = 0;

    while (i < n && !rc) {
        switch (st->mode) {
        case TEXT:
            rc = text(st, s, n, &i);
            break;
        case CODE:
        case EXPR:
            rc = block(st, s, n, &i);
            break;
        case COMMENT:
            skip(st, s, n, &i, "--%>");
            break;
        default:
            skip(st, s, n, &i, "%>");
        }
    }
    return rc;
}

int mp_psp_translate(const char *src, size_t len, mp_psp_load_fn load, void *data,
                     mp_psp_buf *out)
{
    psp_state st;
    int rc;

    memset(&st, 0, sizeof(st));
    st.out = out;
    st.load = load;
    st.data = data;
    st.mode = TEXT;
    if (len == 0)
        return 0;   /* an empty template is an empty program */
    if ((rc = PUTS(&st, TEXT_OPEN)) || (rc = scan(&st, src, len)))
        return rc;
    return st.mode == TEXT ? PUTS(&st, TEXT_CLOSE "\n") : 0;
}

void mp_psp_buf_free(mp_psp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
