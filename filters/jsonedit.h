/*
 * jsonedit.h - members of a JSON document's top-level object removed or
 * renamed (the API gateway's response_json: a backend's "password" kept
 * from the clients). Pure: a buffer in, a buffer out, no I/O.
 *
 * A rule names a member by a path: "password" is a member of the
 * top-level object, "internal.id" the member id of the object that is
 * member internal of it. Names are compared with each key after JSON
 * unescaping ("pass\u0077ord" is "password"); a name cannot hold a '.'.
 * Every member that matches is edited (a key written twice: both), and a
 * path goes into every object that matches its leading names.
 *
 * The document is edited as written: what is not removed or renamed is
 * copied byte for byte (its whitespace, escapes and number spellings), a
 * removed member takes its comma with it, so the output is strict JSON
 * when the input is. A document that does not parse (filters/json.h:
 * strict), or whose top level is not an object, is not edited.
 */
#ifndef FLT_JSONEDIT_H
#define FLT_JSONEDIT_H

#include <stddef.h>

#include "filters/json.h"

#define FLT_JSONEDIT_MAX 16         /* remove rules, and rename rules */
#define FLT_JSONEDIT_SEGS 8         /* names in a path */
#define FLT_JSONEDIT_PATH_MAX 256   /* bytes of a path or a new name */

struct flt_jsonedit;

/* An empty rule set; NULL when out of memory. */
struct flt_jsonedit *flt_jsonedit_new(void);
void flt_jsonedit_free(struct flt_jsonedit *e);

/* Add a rule removing path ("a" or "a.b.c"). NULL, or why it is refused
 * (a static string): an empty name, too many names or rules, a control
 * byte, bad UTF-8. */
const char *flt_jsonedit_remove(struct flt_jsonedit *e, const char *path);

/* Add a rule renaming: spec is "path: new" ("usr: user"; "a.b: c" renames
 * a.b to a.c; blanks around either side are ignored). NULL or why not. */
const char *flt_jsonedit_rename(struct flt_jsonedit *e, const char *spec);

/* Rules held: 0 means nothing would ever be edited. */
size_t flt_jsonedit_rules(const struct flt_jsonedit *e);

/* Tokens enough to parse any len-byte document (each value takes at
 * least one byte and a separator): the size of run's token array. */
#define FLT_JSONEDIT_TOKENS(len) ((len) / 2 + 2)

/* Tokens enough for in[0, len) itself, usually far fewer: every value
 * but the document follows a '{', '[', ',' or ':' of its own, so one more
 * than the count of those bytes (those inside strings too: more, never
 * fewer). At most FLT_JSONEDIT_TOKENS(len). */
size_t flt_jsonedit_tokens(const char *in, size_t len);

/*
 * Edit in[0, len) with rules e into out[0, outlen), tok[0, ntok) being
 * the parser's scratch (FLT_JSONEDIT_TOKENS(len) always suffices).
 * Returns the edited document's length: when it is over outlen, out holds
 * nothing usable and the call is to be made again with that much room (a
 * rename can make a document longer: snprintf's contract). Or:
 * -ENOENT  a valid object, but no rule matched: in is the answer;
 * -EINVAL  not strict JSON, or its top level is not an object;
 * -ENOSPC  more than ntok tokens;  -ELOOP  nested too deep.
 * On any negative return the document is to be sent unchanged.
 */
long flt_jsonedit_run(const struct flt_jsonedit *e, const char *in, size_t len,
                      struct flt_json_tok *tok, size_t ntok, char *out, size_t outlen);

/* Is the Content-Type value v[0, n) a JSON media type: application/json
 * or any type/subtype ending in "+json" (RFC 6839), any case, parameters
 * allowed ("application/problem+json; charset=utf-8")? 1 or 0. */
int flt_jsonedit_type(const char *v, size_t n);

#endif
