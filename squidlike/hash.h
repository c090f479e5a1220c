/*
 * hash.h - FNV-1a, the one string hash of the house (hash tables of names,
 * keys, addresses; the PAC file's host hash, which its JavaScript computes
 * the same way). Part of the base: pure, header-only, used by every room.
 *
 * The step functions are for callers that walk a name their own way (right
 * to left for domain suffixes, lowercasing as they go) or finish with their
 * own mixing; the whole-string forms are for the rest.
 */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SL_FNV32_INIT 2166136261u
#define SL_FNV64_INIT 0xcbf29ce484222325ULL

static inline uint32_t sl_fnv32_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u;
}

static inline uint64_t sl_fnv64_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * 0x100000001b3ULL;
}

/* Of n bytes at p, first to last. */
static inline uint32_t sl_fnv32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = SL_FNV32_INIT;

    while (n--)
        h = sl_fnv32_step(h, *s++);
    return h;
}

/* Of a NUL-terminated string. */
static inline uint32_t sl_fnv32_str(const char *s)
{
    uint32_t h = SL_FNV32_INIT;

    while (*s)
        h = sl_fnv32_step(h, (unsigned char)*s++);
    return h;
}

static inline uint64_t sl_fnv64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = SL_FNV64_INIT;

    while (n--)
        h = sl_fnv64_step(h, *s++);
    return h;
}

#endif
