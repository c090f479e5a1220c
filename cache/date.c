/*
 * date.c - HTTP-date (RFC 9110 5.6.7): the three formats a recipient must
 * accept, and IMF-fixdate out. Pure; split from policy.c, which uses it
 * for Date, Expires, Last-Modified and conditionals.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cache/policy.h"
#include "squidlike/chars.h"

/* Dates are clamped to what IMF-fixdate can show: 9999-12-31 23:59:59. */
#define DATE_MAX INT64_C(253402300799)

/* --- HTTP-date (RFC 9110 5.6.7) ----------------------------------------- */

static const char day_abbr[7][4] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const day_full[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday"
};
static const char month_abbr[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return mdays[m - 1] + (m == 2 && leap);
}

/* n digits at p, or -1. */
static int digits(const char *p, int n)
{
    int v = 0;

    while (n--) {
        if (!sl_is_digit(*p))
            return -1;
        v = v * 10 + (*p++ - '0');
    }
    return v;
}

/* Month names are case-sensitive (%s in RFC 9110 5.6.7). */
static int month_num(const char *p)
{
    int i;

    for (i = 0; i < 12; i++)
        if (memcmp(p, month_abbr[i], 3) == 0)
            return i + 1;
    return -1;
}

static int is_day_abbr(const char *p)
{
    int i;

    for (i = 0; i < 7; i++)
        if (memcmp(p, day_abbr[i], 3) == 0)
            return 1;
    return 0;
}

/* "HH:MM:SS" at p: seconds of the day, or -1. second 60 is a leap second. */
static int64_t time_of_day(const char *p)
{
    int h = digits(p, 2), m = digits(p + 3, 2), s = digits(p + 6, 2);

    if (p[2] != ':' || p[5] != ':' || h < 0 || h > 23 || m < 0 || m > 59
        || s < 0 || s > 60)
        return -1;
    return h * 3600 + m * 60 + s;
}

/* The weekday is checked for spelling only: a mismatch with the date is
 * harmless, and rejecting it would turn a usable date into "expired". */
static int64_t make_time(int64_t y, int mon, int d, const char *tod)
{
    int64_t secs = time_of_day(tod);

    if (y < 0 || mon < 1 || d < 1 || d > days_in_month(y, mon) || secs < 0)
        return -1;
    if (y < 1970)
        return 0;               /* before the epoch: "long ago" is enough */
    return days_from_civil(y, mon, d) * 86400 + secs;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static int64_t parse_imf(const char *p, size_t n)
{
    if (n != 29 || !is_day_abbr(p) || memcmp(p + 3, ", ", 2) != 0
        || p[7] != ' ' || p[11] != ' ' || p[16] != ' '
        || memcmp(p + 25, " GMT", 4) != 0)
        return -1;
    return make_time(digits(p + 12, 4), month_num(p + 8), digits(p + 5, 2),
                     p + 17);
}

/*
 * rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT". 5.6.7 wants a two-digit
 * year more than 50 years ahead of "now" read as the past century; we have
 * no clock here, so the fixed pivot is 70: 00-69 -> 20xx, 70-99 -> 19xx.
 */
static int64_t parse_rfc850(const char *p, size_t n)
{
    const char *c = memchr(p, ',', n);
    size_t dl = c ? (size_t)(c - p) : 0;
    int i, yy;

    for (i = 0; i < 7; i++)
        if (strlen(day_full[i]) == dl && memcmp(p, day_full[i], dl) == 0)
            break;
    if (i == 7 || n != dl + 24)
        return -1;
    p = c + 2;
    if (c[1] != ' ' || p[2] != '-' || p[6] != '-' || p[9] != ' '
        || memcmp(p + 18, " GMT", 4) != 0 || (yy = digits(p + 7, 2)) < 0)
        return -1;
    return make_time(yy < 70 ? 2000 + yy : 1900 + yy, month_num(p + 3),
                     digits(p, 2), p + 10);
}

/* asctime-date: "Sun Nov  6 08:49:37 1994" (day is 2DIGIT or SP DIGIT). */
static int64_t parse_asctime(const char *p, size_t n)
{
    int d;

    if (n != 24 || !is_day_abbr(p) || p[3] != ' ' || p[7] != ' '
        || p[10] != ' ' || p[19] != ' ')
        return -1;
    d = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
    return make_time(digits(p + 20, 4), month_num(p + 4), d, p + 11);
}

int64_t cache_date_parse(struct sl_view v)
{
    v = sl_view_trim(v);
    if (v.len < 24)
        return -1;
    if (v.base[3] == ',')
        return parse_imf(v.base, v.len);
    if (v.base[3] == ' ')
        return parse_asctime(v.base, v.len);
    return parse_rfc850(v.base, v.len);
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void cache_date_format(int64_t t, char *buf)
{
    int64_t days, z, era, doe, yoe, doy, mp, y, secs;
    int d, m;

    t = t < 0 ? 0 : t > DATE_MAX ? DATE_MAX : t;
    days = t / 86400;
    secs = t % 86400;
    /* civil_from_days (H. Hinnant), the inverse of days_from_civil. */
    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = (int)(doy - (153 * mp + 2) / 5 + 1);
    m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y = yoe + era * 400 + (m <= 2);

    memcpy(buf, day_abbr[(days + 4) % 7], 3);  /* 1970-01-01 was a Thursday */
    memcpy(buf + 3, ", ", 2);
    put2(buf + 5, d);
    buf[7] = ' ';
    memcpy(buf + 8, month_abbr[m - 1], 3);
    buf[11] = ' ';
    put2(buf + 12, (int)(y / 100));
    put2(buf + 14, (int)(y % 100));
    buf[16] = ' ';
    put2(buf + 17, (int)(secs / 3600));
    buf[19] = ':';
    put2(buf + 20, (int)(secs / 60 % 60));
    buf[22] = ':';
    put2(buf + 23, (int)(secs % 60));
    memcpy(buf + 25, " GMT", 5);
}

