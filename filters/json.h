/*
 * json.h - a small strict JSON parser (RFC 8259) that allocates nothing:
 * a document is parsed into a token array the caller gives, jsmn-like.
 * Pure: no I/O, no state between calls.
 *
 * Each token is one value: its type, its text as offsets into the
 * original buffer (text[start, end): the whole value as written, quotes
 * and brackets included, so that a caller can cut or rename members of a
 * small document in place), its number of children and the index of the
 * token after it and all its descendants (skipping a value is O(1)).
 * Token 0 is the document. An object's children are its members, each
 * two tokens: the key (a STRING) then the value; an array's are its
 * elements. size counts members (objects) or elements (arrays).
 *
 * Strict: one value, then only whitespace; no trailing commas; numbers
 * as the grammar says (no leading zeros, no '+', no bare '.'); strings
 * with only the escapes of RFC 8259 7, no control bytes, valid UTF-8
 * (shortest form, no surrogates, up to U+10FFFF), and \u surrogates in
 * pairs. Nesting deeper than FLT_JSON_MAX_DEPTH, or more tokens than the
 * caller's array, is refused, never truncated.
 */
#ifndef FLT_JSON_H
#define FLT_JSON_H

#include <stddef.h>
#include <stdint.h>

#define FLT_JSON_MAX_DEPTH 32       /* arrays and objects nested */
#define FLT_JSON_MAX_LEN 0x7fffffffu /* offsets fit the tokens' fields */

enum flt_json_type {
    FLT_JSON_OBJECT = 1,
    FLT_JSON_ARRAY,
    FLT_JSON_STRING,
    FLT_JSON_NUMBER,
    FLT_JSON_TRUE,
    FLT_JSON_FALSE,
    FLT_JSON_NULL
};

struct flt_json_tok {
    uint32_t type;              /* enum flt_json_type */
    uint32_t start, end;        /* text[start, end): the value as written */
    uint32_t size;              /* members (object) or elements (array) */
    uint32_t next;              /* index of the token after this subtree */
};

/*
 * Parse text[0, len) into t[0, max). Returns the number of tokens used
 * (>= 1), or -EINVAL when the text is not one strict JSON value (or len
 * is over FLT_JSON_MAX_LEN), -ENOSPC when it needs more than max tokens,
 * -ELOOP when it nests deeper than FLT_JSON_MAX_DEPTH.
 */
int flt_json_parse(const char *text, size_t len, struct flt_json_tok *t, size_t max);

/*
 * The value of member key (a NUL-terminated UTF-8 string, compared with
 * each key after unescaping: "a\u0062" is "ab") of the object t[obj].
 * Returns the value's token index, -ENOENT when absent (or t[obj] is not
 * an object), -EEXIST when the key is there more than once: callers that
 * decide on a member (security headers) refuse the document rather than
 * pick one of two meanings.
 */
int flt_json_get(const char *text, const struct flt_json_tok *t, int obj, const char *key);

/* Does string token t[i] equal s[0, n) once unescaped? 1 or 0 (0 for a
 * token that is not a string). */
int flt_json_eq(const char *text, const struct flt_json_tok *t, int i,
                const char *s, size_t n);

/*
 * The unescaped value of string token t[i] into out[0, outlen),
 * NUL-terminated. Returns its length (it may hold NUL bytes from
 * "\u0000": check when a C string is wanted), -EINVAL when t[i] is not a
 * string, -ENOSPC when it does not fit with its NUL.
 */
long flt_json_string(const char *text, const struct flt_json_tok *t, int i,
                     char *out, size_t outlen);

/*
 * Number token t[i] as an integer: the floor of its value (1.9 -> 1,
 * -1.5 -> -2, 1e3 -> 1000, exactly, in decimal: no floating point).
 * Returns 0, -EINVAL when not a number, -ERANGE when the floor does not
 * fit in an int64_t.
 */
int flt_json_int(const char *text, const struct flt_json_tok *t, int i, int64_t *v);

/* true/false token t[i]: 0 with *v 1 or 0, -EINVAL for another type. */
int flt_json_bool(const struct flt_json_tok *t, int i, int *v);

#endif
