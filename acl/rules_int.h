/*
 * rules_int.h - private to acl/: the ACL object and its per-type operations,
 * shared by rules.c (sets, definitions, http_access rules) and match.c (the
 * value parsers and matchers of each type). Never include from another
 * folder.
 */
#ifndef ACL_RULES_INT_H
#define ACL_RULES_INT_H

#include <stddef.h>
#include <stdint.h>

#include <pcre2.h>

#include "acl/acl.h"
#include "acl/rules.h"

#define ACL_NAME_MAX 64

/* A set of byte strings: open addressing, linear probing, each entry
 * carrying a value (the ACL index in the name table, unused elsewhere). */
struct acl_sset_ent {
    char *s;                    /* owned, NUL-terminated; NULL: empty slot */
    uint32_t len;
    uint32_t hash;
    uint32_t val;
};

struct acl_sset {
    struct acl_sset_ent *t;
    size_t cap;                 /* power of two, or 0 */
    size_t n;
};

/* The hash of s[0..len): FNV-1a (hash.h) from the last byte backwards, so
 * that the hashes of all suffixes of a name come out of one pass with
 * sl_fnv32_step (see dom_lookup in match.c). */
uint32_t acl_hash(const char *s, size_t len);
/* 1 added, 0 already there (val unchanged), -ENOMEM. */
int acl_sset_add(struct acl_sset *ss, const char *s, size_t len, uint32_t val);
/* The entry or NULL. */
const struct acl_sset_ent *acl_sset_find(const struct acl_sset *ss,
                                         const char *s, size_t len,
                                         uint32_t hash);
void acl_sset_free(struct acl_sset *ss);

/* Compiled regular expressions: groups of patterns joined as one
 * alternation where that is safe, each with its own match data. */
struct acl_rx {
    pcre2_code *code;
    pcre2_match_data *md;       /* written while matching: one matcher at a time */
    char *src;                  /* "(?:a)|(?:b)", NULL when not mergeable */
    size_t srclen;
    int icase;
};

struct acl_rxlist {
    struct acl_rx *v;
    size_t n;
    /* The set's (acl_set owns it, rules.c points every list of an ACL at it
     * once the ACL's values are stored): match limits and a JIT stack, so
     * that a pattern's work on one subject is bounded. NULL: PCRE2's
     * defaults. */
    pcre2_match_context *mctx;
};

/* A match context with acl/'s bounds on the work of one pattern on one
 * subject (rules.c says why: match and depth limits, a JIT stack when the
 * JIT is built in): 0, or -ENOMEM with nothing left allocated. Shared by
 * the ACL sets and the route table (route.c). */
int acl_rx_context(pcre2_match_context **mctx, pcre2_jit_stack **jstack);
/* err (errlen bytes) gets the message; returns -1. */
int acl_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Compile one pattern to validate it: 0, or -1 with why ("bad regex ..."). */
int acl_rx_check(const char *v, int icase, char *why, size_t whylen);
/* Add n checked patterns to l: 0 or -ENOMEM. */
int acl_rx_add(struct acl_rxlist *l, const char *const *v, size_t n, int icase);
/* Does any pattern of l match s[0..len)? Allocation-free. A pattern that
 * stops on an error (a match limit, the JIT stack) counts as matching:
 * fail closed, see acl_rx_match. */
int acl_rx_match(const struct acl_rxlist *l, const char *s, size_t len);
void acl_rx_free(struct acl_rxlist *l);

struct acl_hdr_rx {
    char *name;                 /* field name, matched case-insensitively */
    struct acl_rxlist rx;
};

struct acl_port_range {
    unsigned lo, hi;
};

struct acl_time_spec {
    unsigned days;              /* bit 0 = Sunday (tm_wday) */
    unsigned start, end;        /* minutes of the day, both included */
};

struct acl_type;

struct acl {
    char name[ACL_NAME_MAX + 1];
    const struct acl_type *type;
    union {
        struct { struct acl_net *v; size_t n; int any; } nets;
        struct { struct acl_sset exact, suffix; } dom;
        struct acl_rxlist rx;
        struct { struct acl_hdr_rx *v; size_t n; } hdr;
        struct { struct acl_port_range *v; size_t n; } ports;
        struct { struct acl_sset set; int required; } words;
        struct { struct acl_time_spec *v; size_t n; } time;
        struct { unsigned max; int set; } maxconn;
        struct { char **v; size_t n; } groups;
        struct {
            acl_external_cb match;
            void *data;
            void (*free_cb)(void *);
        } ext;
    } u;
};

/* A match's answer when a fact could not be found out (rules.h). */
#define ACL_M_UNKNOWN (-1)

/* How a type's values are checked, stored, matched and freed. */
enum {
    ACL_TF_NOVALUES = 1,        /* "all": no values at all */
    ACL_TF_ONEVALUE = 2,        /* "maxconn": exactly one, once */
    ACL_TF_REGEX = 4            /* "#" is part of a value, not a comment */
};

struct acl_type {
    const char *name;
    unsigned flags;
    /* Validate one value: 0, or -1 with why ("bad port \"80x\""). */
    int (*check)(const char *v, int icase, char *why, size_t whylen);
    /* Store n checked values: 0 or -ENOMEM (why filled). */
    int (*add)(struct acl *a, const char *const *v, size_t n, int icase,
               char *why, size_t whylen);
    /* 1 match, 0 no match, ACL_M_UNKNOWN, or an ACL_NEED_* verdict
     * (always > 1). */
    int (*match)(const struct acl *a, const struct acl_request *r,
                 const char **note);
    void (*free)(struct acl *a);
};

/* The ACL called name in s, or NULL (rules.c). */
struct acl *acl_find(const struct acl_set *s, const char *name);

/* The type called name, or NULL. The external type is not looked up by
 * name: acl_type_external is used by acl_set_define_external. */
const struct acl_type *acl_type_find(const char *name);
extern const struct acl_type acl_type_external;

#endif
