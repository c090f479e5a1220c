/*
 * buf.h - the one owning buffer type and the one borrowed view type.
 *
 * An sl_buf owns [start, end); bytes [pos, last) are data not yet consumed.
 * Readers fill at last, writers drain from pos. A buffer never grows past the
 * limit its owner passes to sl_buf_reserve: that is how every buffer in the
 * daemon stays bounded.
 *
 * An sl_view is a window into someone else's bytes (usually an sl_buf); it
 * owns nothing and is valid only while the bytes it points into are.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <string.h>

struct sl_view {
    const char *base;
    size_t len;
};

struct sl_buf {
    char *start;
    char *end;
    char *pos;
    char *last;
};

#define SL_VIEW_LIT(s) ((struct sl_view){ (s), sizeof(s) - 1 })

/* Allocate size bytes. Returns 0 or -ENOMEM. */
int sl_buf_init(struct sl_buf *b, size_t size);
/* Release the memory; the buffer is left empty and may be re-initialised. */
void sl_buf_free(struct sl_buf *b);
/*
 * Make room for at least want free bytes after last: first by moving the data
 * to start, then by growing, never past limit total bytes.
 * Returns 0, -ENOSPC when limit forbids it, -ENOMEM.
 */
int sl_buf_reserve(struct sl_buf *b, size_t want, size_t limit);
/* Append n bytes; -ENOSPC when they do not fit (no growth). */
int sl_buf_append(struct sl_buf *b, const void *p, size_t n);
/* Append a formatted string; -ENOSPC when it does not fit (nothing added). */
int sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A page written in many printf steps: the first error sticks (rc), the
 * steps after it do nothing, and the caller checks rc once at the end. */
struct sl_bufw {
    struct sl_buf *out;
    int rc;
};
void sl_bufw_printf(struct sl_bufw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Append s HTML-escaped: & < > " ' as entities, control bytes and DEL
 * (which no page wants) dropped, the rest as it is. Entities go in whole;
 * -ENOSPC when the rest does not fit (what fitted stays: a cut value).
 * The one escaper of every page we build: errors, block pages, status.
 */
int sl_buf_append_html(struct sl_buf *b, const char *s);
/* The same through a sticky writer. */
void sl_bufw_html(struct sl_bufw *w, const char *s);
/* s as a JSON string, quotes included (NULL: ""): '"' and '\\' escaped,
 * control bytes, DEL and bytes that are not UTF-8 as \u00XX, so the
 * document always parses. */
void sl_bufw_json(struct sl_bufw *w, const char *s);

/* Length of the valid UTF-8 sequence (2 to 4 bytes, no overlong form, no
 * surrogate) at p, or 0: what a JSON writer may pass as it is. */
size_t sl_utf8_len(const unsigned char *p);

static inline size_t sl_buf_len(const struct sl_buf *b) { return (size_t)(b->last - b->pos); }
static inline size_t sl_buf_space(const struct sl_buf *b) { return (size_t)(b->end - b->last); }
static inline size_t sl_buf_size(const struct sl_buf *b) { return (size_t)(b->end - b->start); }
/* Forget the data; keeps the memory. */
static inline void sl_buf_reset(struct sl_buf *b) { b->pos = b->last = b->start; }
/* Consume n bytes from pos; an emptied buffer rewinds to start. */
static inline void sl_buf_consume(struct sl_buf *b, size_t n)
{
    b->pos += n;
    if (b->pos == b->last)
        b->pos = b->last = b->start;
}

/* The view of [s, e). */
static inline struct sl_view sl_view_from(const char *s, const char *e)
{
    struct sl_view v = { s, (size_t)(e - s) };

    return v;
}
/* One past the last byte of v. */
static inline const char *sl_view_end(struct sl_view v) { return v.base + v.len; }

/* Case-insensitive comparison of a view with a NUL-terminated ASCII string. */
int sl_view_ieq(struct sl_view v, const char *s);
/* The same with another view (ASCII case only; other bytes as they are). */
int sl_view_ieq_view(struct sl_view a, struct sl_view b);
/* Exact comparison. */
static inline int sl_view_eq(struct sl_view v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && memcmp(v.base, s, n) == 0;
}

#endif
