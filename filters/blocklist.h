/*
 * blocklist.h - category blocklists in the UT1 / squidGuard layout: a
 * directory per category holding "domains", "urls" and "expressions"
 * files. Pure: files are read while loading (config load or reload), never
 * while matching; matching allocates nothing.
 *
 * Domains match by label suffix: "example.com" in a list blocks
 * example.com and every name below it. The cost of a lookup depends on the
 * number of labels of the host, not on the size of the lists. URL entries
 * ("host/path/prefix", no scheme) match host + path prefixes; expressions
 * are PCRE2 patterns matched against the whole URL.
 */
#ifndef FLT_BLOCKLIST_H
#define FLT_BLOCKLIST_H

#include <stddef.h>
#include <stdint.h>

#define FLT_BL_MAX_CATEGORIES 256

struct flt_bl;

/* Bad lines are reported here and skipped: never fatal for the list. */
typedef void (*flt_bl_warn_cb)(void *data, const char *file, unsigned line,
                               const char *why);

struct flt_bl *flt_bl_new(void);
void flt_bl_free(struct flt_bl *bl);

/*
 * Load the categories found under dir (each subdirectory is one category,
 * named after it). Only the listed categories are loaded when names is not
 * NULL (n entries); a listed category that does not exist is an error.
 * Comments (#), blank lines, CRLF, duplicates, uppercase, trailing dots
 * and surrounding blanks are handled; lines that are not a host name, URL
 * or valid expression are reported through warn and skipped.
 * Returns 0, or -1 with err (unreadable directory, unknown category).
 */
int flt_bl_load_dir(struct flt_bl *bl, const char *dir,
                    const char *const *names, size_t n,
                    flt_bl_warn_cb warn, void *warn_data,
                    char *err, size_t errlen);

/* The id of a loaded category, or -1. */
int flt_bl_category_id(const struct flt_bl *bl, const char *name);
const char *flt_bl_category_name(const struct flt_bl *bl, int id);
size_t flt_bl_ncategories(const struct flt_bl *bl);

/* A set of categories, as a bitmap. */
struct flt_bl_set {
    uint64_t bits[FLT_BL_MAX_CATEGORIES / 64];
};

/*
 * Is this request in one of the categories of want? host is lowercase,
 * url is "host/path?query" (no scheme; may be NULL for CONNECT). Returns
 * the id of the first category found (domains, then urls, then
 * expressions), or -1.
 */
int flt_bl_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                 const char *host, size_t host_len,
                 const char *url, size_t url_len);

struct flt_bl_stats {
    size_t domains, urls, expressions, bad_lines;
    size_t bytes;               /* memory held by the lists */
};
void flt_bl_get_stats(const struct flt_bl *bl, struct flt_bl_stats *st);

#endif
