/*
 * negotiate.c - Negotiate (Kerberos) proxy authentication through MIT
 * krb5's GSS-API (see negotiate.h).
 *
 * Each check acquires its own acceptor credential from the keytab
 * (gss_acquire_cred_from with a "keytab" cred store) and its own context:
 * no GSS object is shared between threads, and a keytab replaced on disk
 * (a key rotated with ktadd) is read by the next check without a reload.
 * The acquisition reads the keytab, which the check reads anyway; it costs
 * microseconds beside the ticket's decryption, and it runs once per client
 * connection (the daemon keeps the verified user for the connection).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "acl/negotiate.h"
#include "squidlike/chars.h"

struct acl_negotiate {
    char *keytab;               /* as given to the library */
    char *principal;            /* NULL: any key of the keytab */
    char *display;              /* the principal as the library names it */
    int strip_realm;
};

/* Library text for a log line: printable ASCII, no '"' or '\\'. */
static void clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
            *s = '?';
}

/* The library's words for (major, minor), "; "-joined, into why. */
static void gss_why(OM_uint32 major, OM_uint32 minor, char *why, size_t whylen)
{
    OM_uint32 ms, ctx = 0;
    gss_buffer_desc msg;
    size_t used = 0;
    int type, rounds;

    if (whylen == 0)
        return;
    why[0] = '\0';
    for (type = 0; type < 2; type++) {
        OM_uint32 code = type == 0 ? major : minor;
        int gss_type = type == 0 ? GSS_C_GSS_CODE : GSS_C_MECH_CODE;

        if (type == 1 && minor == 0)
            break;
        /* "Unspecified GSS failure. Minor code may provide more
         * information": it does; say only that. */
        if (type == 0 && major == GSS_S_FAILURE && minor != 0)
            continue;
        ctx = 0;
        for (rounds = 0; rounds < 8; rounds++) {    /* bounded: a library loop */
            msg.length = 0;
            msg.value = NULL;
            if (GSS_ERROR(gss_display_status(&ms, code, gss_type, GSS_C_NO_OID,
                                             &ctx, &msg)))
                break;
            if (used + 3 < whylen && msg.length > 0) {
                int n = snprintf(why + used, whylen - used, "%s%.*s",
                                 used ? "; " : "", (int)msg.length,
                                 (const char *)msg.value);
                used = n > 0 && (size_t)n < whylen - used ? used + (size_t)n : whylen - 1;
            }
            gss_release_buffer(&ms, &msg);
            if (ctx == 0)
                break;
        }
    }
    if (why[0] == '\0')
        snprintf(why, whylen, "GSS-API error %u/%u", (unsigned)major, (unsigned)minor);
    clean(why);
}

/* The acceptor credential of n for one check (or for the check at load). */
static OM_uint32 acquire(const struct acl_negotiate *n, gss_cred_id_t *cred,
                         OM_uint32 *minor, gss_name_t *namep)
{
    gss_key_value_element_desc el = { "keytab", n->keytab };
    gss_key_value_set_desc store = { 1, &el };
    gss_name_t name = GSS_C_NO_NAME;
    OM_uint32 major, ms;

    *cred = GSS_C_NO_CREDENTIAL;
    if (n->principal != NULL) {
        gss_buffer_desc b = { strlen(n->principal), n->principal };

        major = gss_import_name(minor, &b, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
        if (GSS_ERROR(major))
            return major;
    }
    major = gss_acquire_cred_from(minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                                  GSS_C_ACCEPT, &store, cred, NULL, NULL);
    if (namep != NULL && !GSS_ERROR(major))
        *namep = name;
    else if (name != GSS_C_NO_NAME)
        gss_release_name(&ms, &name);
    return major;
}

/* The file behind a keytab name, for an open() check; NULL: not a file. */
static const char *keytab_file(const char *kt)
{
    if (strncmp(kt, "FILE:", 5) == 0)
        return kt + 5;
    if (strncmp(kt, "WRFILE:", 7) == 0)
        return kt + 7;
    if (kt[0] == '/' || strchr(kt, ':') == NULL)
        return kt;
    return NULL;                /* MEMORY:, KEYRING: ... the library checks */
}

struct acl_negotiate *acl_negotiate_new(const char *keytab, const char *principal,
                                        int strip_realm, char *err, size_t errlen)
{
    struct acl_negotiate *n = NULL;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_name_t name = GSS_C_NO_NAME;
    gss_buffer_desc disp = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor, ms;
    const char *file;
    char why[512];
    int fd;

    if (keytab == NULL || keytab[0] == '\0')
        keytab = getenv("KRB5_KTNAME");
    if (keytab == NULL || keytab[0] == '\0') {
        snprintf(err, errlen, "no keytab: set 'keytab' or KRB5_KTNAME in the environment");
        return NULL;
    }
    /* The usual mistakes, said plainly: the library's own words for a
     * missing file are "No key table entry found ...". */
    file = keytab_file(keytab);
    if (file != NULL) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "keytab %s: %s", file, strerror(errno));
            return NULL;
        }
        close(fd);
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL || (n->keytab = strdup(keytab)) == NULL)
        goto nomem;
    if (principal != NULL && strcmp(principal, "*") != 0 &&
        (n->principal = strdup(principal)) == NULL)
        goto nomem;
    n->strip_realm = strip_realm;
    major = acquire(n, &cred, &minor, &name);
    if (GSS_ERROR(major)) {
        gss_why(major, minor, why, sizeof(why));
        snprintf(err, errlen, "keytab %s: no usable key for %s: %s", keytab,
                 n->principal ? n->principal : "any principal", why);
        acl_negotiate_free(n);
        return NULL;
    }
    if (name != GSS_C_NO_NAME &&
        !GSS_ERROR(gss_display_name(&ms, name, &disp, NULL)) && disp.length > 0) {
        n->display = strndup(disp.value, disp.length);
        gss_release_buffer(&ms, &disp);
    } else {
        n->display = strdup(n->principal ? n->principal : "*");
    }
    if (name != GSS_C_NO_NAME)
        gss_release_name(&ms, &name);
    gss_release_cred(&ms, &cred);
    if (n->display == NULL)
        goto nomem;
    clean(n->display);
    return n;
nomem:
    snprintf(err, errlen, "out of memory");
    acl_negotiate_free(n);
    return NULL;
}

void acl_negotiate_free(struct acl_negotiate *n)
{
    if (n == NULL)
        return;
    free(n->keytab);
    free(n->principal);
    free(n->display);
    free(n);
}

const char *acl_negotiate_keytab(const struct acl_negotiate *n)
{
    return n->keytab;
}

const char *acl_negotiate_principal(const struct acl_negotiate *n)
{
    return n->display;
}

int acl_negotiate_token(struct sl_view value, unsigned char *tok, size_t cap,
                        size_t *len)
{
    size_t sch = 0, i;
    long r;

    while (sch < value.len && value.base[sch] != ' ' && value.base[sch] != '\t')
        sch++;
    if (sch != 9 || !sl_view_ieq((struct sl_view){ value.base, sch }, "negotiate"))
        return 0;
    /* one or more blanks, then token68 (RFC 9110 11.2) */
    for (i = sch; i < value.len && (value.base[i] == ' ' || value.base[i] == '\t'); i++)
        ;
    if (i == sch || i == value.len)
        return -1;
    if (value.len - i > ((ACL_NEGOTIATE_TOKEN_MAX + 2) / 3) * 4)
        return -1;
    r = acl_b64_decode(value.base + i, value.len - i, tok, cap);
    if (r <= 0)
        return -1;
    *len = (size_t)r;
    return 1;
}

/* user: the display name of src, realm stripped when asked. 0 or -1 (why). */
static int user_name(const struct acl_negotiate *n, gss_name_t src, char *user,
                     size_t userlen, char *why, size_t whylen)
{
    gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor, ms;
    size_t len, i;
    const char *p;

    major = gss_display_name(&minor, src, &b, NULL);
    if (GSS_ERROR(major)) {
        gss_why(major, minor, why, whylen);
        return -1;
    }
    p = b.value;
    len = b.length;
    if (n->strip_realm) {
        /* the realm follows the last '@' that is not escaped */
        for (i = len; i > 0; i--)
            if (p[i - 1] == '@' && (i < 2 || p[i - 2] != '\\'))
                break;
        if (i > 1)
            len = i - 1;
    }
    /* The name goes into ACL matching and the logs: it must be plain. */
    for (i = 0; i < len; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f ||
            p[i] == '"' || p[i] == '\\')
            break;
    if (len == 0 || i < len || len >= userlen) {
        snprintf(why, whylen, "client principal %s", len >= userlen ? "too long"
                 : "with a blank, a quote, a backslash or a non-ASCII byte");
        gss_release_buffer(&ms, &b);
        return -1;
    }
    memcpy(user, p, len);
    user[len] = '\0';
    gss_release_buffer(&ms, &b);
    return 0;
}

enum acl_auth_result acl_negotiate_accept(const struct acl_negotiate *n,
                                          const unsigned char *tok, size_t len,
                                          char *user, size_t userlen,
                                          char *why, size_t whylen)
{
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_name_t src = GSS_C_NO_NAME;
    gss_buffer_desc in = { len, (void *)(uintptr_t)tok };
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    enum acl_auth_result r = ACL_AUTH_BAD;
    OM_uint32 major, minor, ms;

    if (userlen > 0)
        user[0] = '\0';
    if (whylen > 0)
        why[0] = '\0';
    major = acquire(n, &cred, &minor, NULL);
    if (GSS_ERROR(major)) {
        gss_why(major, minor, why, whylen);
        return ACL_AUTH_BAD;
    }
    major = gss_accept_sec_context(&minor, &ctx, cred, &in, GSS_C_NO_CHANNEL_BINDINGS,
                                   &src, NULL, &out, NULL, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_why(major, minor, why, whylen);
    } else if (major & GSS_S_CONTINUE_NEEDED) {
        /* A second leg (NTLM in SPNEGO, a mechanism list mismatch): not
         * offered; the client is asked again. */
        snprintf(why, whylen, "the client's token needs more than one round trip "
                 "(not Kerberos?)");
    } else if (user_name(n, src, user, userlen, why, whylen) == 0) {
        r = ACL_AUTH_OK;
    }
    /* out: a mutual-authentication reply; clients of a proxy do not ask
     * for one, and it is not sent. */
    gss_release_buffer(&ms, &out);
    if (src != GSS_C_NO_NAME)
        gss_release_name(&ms, &src);
    if (ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&ms, &ctx, GSS_C_NO_BUFFER);
    gss_release_cred(&ms, &cred);
    if (r != ACL_AUTH_OK && userlen > 0)
        user[0] = '\0';
    return r;
}
